import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The published generation state and everyone waiting for the next one.
///
/// One `Mutex` guards the current state, the SSE subscribers and the parked
/// long-polls. Connections are suspended under that lock and resumed after it
/// is released, so each parked connection is resumed exactly once (resuming a
/// connection that is not suspended is undefined in libmicrohttpd).
public final class GenerationHub: Sendable {
    /// A state with its prebuilt responses, swapped in whole on every publish.
    public struct Published: Sendable {
        public let state: GenerationState
        /// `200` body of `GET /v1/generation`, shared by every request.
        public let response: HTTPResponse
        /// `304` for a matching `If-None-Match`.
        public let notModified: HTTPResponse
        /// The SSE `generation` event for this state.
        public let event: [UInt8]
    }

    struct Shared: ~Copyable {
        var published: Published?
        var streams: [ObjectIdentifier: EventStream] = [:]
        var parked: [ObjectIdentifier: (RequestContext, HTTPConnection)] = [:]
        var shuttingDown = false
        /// Facts the source reports for `/readyz`.
        var sourceStatus: [(String, JSONValue)] = []
        var nextHeartbeat: UInt64
        /// When the sweeper thread plans to wake next (monotonic ns).
        var sweeperWakeAt: UInt64 = .max
    }

    private let shared: Mutex<Shared>
    private let heartbeatInterval: UInt64
    /// Wakes the sweeper thread when a nearer deadline appears.
    public let sweeperWake: WakeSignal
    /// Subscribers whose unsent backlog passes this are disconnected (they reconnect and resync).
    static let backlogLimit = 1 << 20
    /// Sent first on every stream: clients reconnect after this many milliseconds.
    static let retryPrelude = Array("retry: 2000\n\n".utf8)
    static let keepalive = Array(": keepalive\n\n".utf8)

    /// - Parameter heartbeatMilliseconds: interval of SSE `: keepalive` comments.
    public init(heartbeatMilliseconds: Int) throws {
        heartbeatInterval = UInt64(max(1, heartbeatMilliseconds)) * 1_000_000
        sweeperWake = try WakeSignal()
        shared = Mutex(Shared(nextHeartbeat: MonotonicClock.nanoseconds() + heartbeatInterval))
    }

    /// The current state and its responses.
    public var published: Published? {
        shared.withLock { $0.published }
    }

    /// Counts of open SSE streams and parked long-polls.
    public var subscriberCounts: (streams: Int, longPolls: Int) {
        shared.withLock { ($0.streams.count, $0.parked.count) }
    }

    /// Publishes `state`. When its `seq` is new, every SSE subscriber gets an
    /// event and every long-poll waiting on another `seq` is answered.
    public func publish(_ state: GenerationState) {
        let body = JSONCodec.encode(state.json)
        let cacheHeaders = [("Cache-Control", "no-store"), ("ETag", state.entityTag)]
        let published = Published(
            state: state,
            response: HTTPResponse(
                body: Array((body + "\n").utf8), headers: [("Content-Type", "application/json")] + cacheHeaders),
            notModified: HTTPResponse(body: [], headers: cacheHeaders),
            event: Array("event: generation\nid: \(state.seq)\ndata: \(body)\n\n".utf8))
        var toResume: [HTTPConnection] = []
        shared.withLock { shared in
            let isChange = shared.published?.state.seq != state.seq
            shared.published = published
            guard isChange else { return }
            Self.broadcast(published.event, to: shared.streams.values, resuming: &toResume)
            for (key, (request, connection)) in shared.parked where request.waitingSeq != state.seq {
                shared.parked[key] = nil
                request.parkedUntil = nil
                toResume.append(connection)
            }
        }
        for connection in toResume {
            connection.resume()
        }
    }

    /// Waits until every SSE subscriber's queued bytes have been handed to its
    /// socket, or `timeoutMilliseconds` passed. Returns true when all were.
    /// Used before acknowledging a generation to the kernel.
    public func waitUntilDelivered(timeoutMilliseconds: Int) -> Bool {
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
        while true {
            let pending = shared.withLock { shared in shared.streams.values.contains { $0.hasQueuedBytes } }
            if !pending {
                return true
            }
            if MonotonicClock.nanoseconds() >= deadline {
                return false
            }
            usleep(500)
        }
    }

    /// What the source reports about itself, shown by `/readyz`.
    public var sourceStatus: [(String, JSONValue)] {
        get { shared.withLock { $0.sourceStatus } }
        set { shared.withLock { $0.sourceStatus = newValue } }
    }

    /// Sends every SSE subscriber a `clock-disruption` event. It has no `id`,
    /// so `Last-Event-ID` keeps naming the last generation `seq`.
    public func publishClockDisruption(marker: UInt64, atMilliseconds: Int64) {
        let body = JSONCodec.encode(
            .object([
                ("disruption_marker", .uint(marker)),
                ("detected_at", .string(Timestamp.rfc3339(milliseconds: atMilliseconds))),
            ]))
        let event = Array("event: clock-disruption\ndata: \(body)\n\n".utf8)
        var toResume: [HTTPConnection] = []
        shared.withLock { shared in
            Self.broadcast(event, to: shared.streams.values, resuming: &toResume)
        }
        for connection in toResume {
            connection.resume()
        }
    }

    /// Registers an SSE subscriber. Returns nil while shutting down.
    /// - Parameter lastEventID: the client's `Last-Event-ID`; the initial event
    ///   is skipped when it equals the current `seq`.
    func openStream(on connection: HTTPConnection, lastEventID: String?) -> EventStream? {
        shared.withLock { shared in
            guard !shared.shuttingDown, let published = shared.published else { return nil }
            let stream = EventStream(connection: connection, hub: self)
            stream.enqueue(Self.retryPrelude)
            if lastEventID != String(published.state.seq) {
                stream.enqueue(published.event)
            }
            shared.streams[ObjectIdentifier(stream)] = stream
            return stream
        }
    }

    /// Fills `buffer` for a stream, or suspends its connection when there is nothing to send.
    func produce(for stream: EventStream, into buffer: UnsafeMutableRawBufferPointer) -> StreamChunk {
        shared.withLock { shared in
            let count = stream.take(into: buffer)
            if count > 0 {
                return .bytes(count)
            }
            if stream.closing || shared.shuttingDown {
                return .end
            }
            stream.parked = true
            stream.connection.suspend()
            return .suspended
        }
    }

    /// Forgets a stream whose connection ended.
    func removeStream(_ stream: EventStream) {
        _ = shared.withLock { $0.streams.removeValue(forKey: ObjectIdentifier(stream)) }
    }

    /// Parks a long-poll until `seq` moves away from `seq` or `deadline` passes.
    /// Returns false (nothing parked) when the answer is due now.
    func park(_ request: RequestContext, on connection: HTTPConnection, whileSeqIs seq: UInt64, until deadline: UInt64)
        -> Bool
    {
        let (parked, wakeSweeper) = shared.withLock { shared -> (Bool, Bool) in
            guard !shared.shuttingDown, shared.published?.state.seq == seq else { return (false, false) }
            request.waitingSeq = seq
            request.parkedUntil = deadline
            request.wasParked = true
            shared.parked[ObjectIdentifier(request)] = (request, connection)
            connection.suspend()
            if deadline < shared.sweeperWakeAt {
                shared.sweeperWakeAt = deadline
                return (true, true)
            }
            return (true, false)
        }
        if wakeSweeper {
            sweeperWake.signal()
        }
        return parked
    }

    /// Answers expired long-polls and sends due heartbeats. Returns when to
    /// sweep next (monotonic ns). Called by the sweeper thread.
    public func sweep(now: UInt64) -> UInt64 {
        var toResume: [HTTPConnection] = []
        let next = shared.withLock { shared -> UInt64 in
            var next = UInt64.max
            for (key, (request, connection)) in shared.parked {
                guard let deadline = request.parkedUntil else { continue }
                if deadline <= now {
                    shared.parked[key] = nil
                    request.parkedUntil = nil
                    toResume.append(connection)
                } else {
                    next = min(next, deadline)
                }
            }
            if now >= shared.nextHeartbeat {
                Self.broadcast(Self.keepalive, to: shared.streams.values, resuming: &toResume)
                shared.nextHeartbeat = now + heartbeatInterval
            }
            next = min(next, shared.nextHeartbeat)
            shared.sweeperWakeAt = next
            return next
        }
        for connection in toResume {
            connection.resume()
        }
        return next
    }

    /// Queues `bytes` on every stream and collects the parked ones to resume
    /// once the lock is released. Call with the lock held.
    private static func broadcast(
        _ bytes: [UInt8], to streams: some Sequence<EventStream>, resuming toResume: inout [HTTPConnection]
    ) {
        for stream in streams {
            stream.enqueue(bytes)
            if stream.parked {
                stream.parked = false
                toResume.append(stream.connection)
            }
        }
    }

    /// Ends every SSE stream and answers every long-poll; refuses new ones.
    public func beginShutdown() {
        var toResume: [HTTPConnection] = []
        shared.withLock { shared in
            shared.shuttingDown = true
            for stream in shared.streams.values {
                stream.closing = true
                if stream.parked {
                    stream.parked = false
                    toResume.append(stream.connection)
                }
            }
            for (request, connection) in shared.parked.values {
                request.parkedUntil = nil
                toResume.append(connection)
            }
            shared.parked.removeAll()
        }
        for connection in toResume {
            connection.resume()
        }
    }

    /// True once `beginShutdown()` ran.
    public var isShuttingDown: Bool {
        shared.withLock { $0.shuttingDown }
    }
}
