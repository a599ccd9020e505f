import GeniddGeneration
import GeniddSystem
import Logging
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
final class GenerationHub: GenerationPublisher {
    /// A state with its prebuilt responses, swapped in whole on every publish.
    struct Published: Sendable {
        let state: GenerationState
        /// `200` body of `GET /v1/generation`, shared by every request.
        let response: HTTPResponse
        /// `304` for a matching `If-None-Match`.
        let notModified: HTTPResponse
        /// The SSE `generation` event for this state.
        let event: [UInt8]
    }

    struct Shared: ~Copyable {
        var published: Published?
        var streams: [ObjectIdentifier: EventStream] = [:]
        var parked: [ObjectIdentifier: (RequestContext, HTTPConnection)] = [:]
        /// What each hang-up watch token stands for (streams and parked requests).
        var hangupTargets: [UInt64: HangupTarget] = [:]
        var lastHangupToken: UInt64 = 0
        var watchers: WatcherRegistry
        var shuttingDown = false
        /// Facts the source reports for `/readyz`.
        var sourceStatus: [(String, JSONValue)] = []
        /// What could not be written (state, export files): `/readyz` is 503 while any.
        var writeProblems: [String] = []
        var nextHeartbeat: MonotonicInstant
        /// The last change still being written to subscribers: when it was
        /// published and how many streams have yet to take it (for the latency metric).
        var delivery: (start: MonotonicInstant, remaining: Int, subscribers: Int, seq: UInt64)?
        /// When the sweeper thread plans to wake next (monotonic ns).
        var sweeperWakeAt = MonotonicInstant.never
        /// The last states with a new `seq`, for the status page.
        var history = ChangeHistory()
    }

    /// Everything mutable, behind one lock (`GenerationHub+Watchers.swift` uses it too).
    let shared: Mutex<Shared>
    private let heartbeatInterval: Duration
    private let logger: Logger
    let metrics: DaemonMetrics?
    /// Wakes the sweeper thread when a nearer deadline appears.
    let sweeperWake: WakeSignal
    /// Suspended connections watched for their peer hanging up: libmicrohttpd
    /// never looks at a suspended connection, so without this a client that
    /// left would hold its descriptor until the next heartbeat or deadline.
    let hangups: EpollSet
    /// Signalled when the last subscriber took the last change (``waitUntilDelivered(timeout:)``).
    private let deliveredSignal: WakeSignal
    /// Signalled after every change of the watcher registry (for ``WatcherPersistence``).
    let watcherChanges: WakeSignal
    /// Subscribers whose unsent backlog passes this are disconnected (they reconnect and resync).
    static let backlogLimit = 1 << 20
    /// Opens every stream: clients reconnect after this many milliseconds.
    /// A field line without the blank line that would end an event: it
    /// becomes part of the first event's block (the current state), or, when
    /// `Last-Event-ID` skips that, of the next one. A block holding only
    /// `retry:` is dispatched by some clients (httpx-sse) as an empty message.
    static let retryField = Array("retry: 2000\n".utf8)
    /// The heartbeat: one comment line, without a blank line after it, so
    /// that no client dispatches anything for it (httpx-sse yields an empty
    /// message for a block that holds only a comment). It joins the next
    /// event's block, where every parser ignores it.
    static let keepalive = Array(": keepalive\n".utf8)

    /// - Parameters:
    ///   - heartbeat: interval of SSE `: keepalive` comments.
    ///   - watcherExpiry: how long a watcher may be absent before it is expired.
    init(
        heartbeat: Duration, watcherExpiry: Duration = .seconds(300), watchersPerOwner: Int = 100,
        logger: Logger, metrics: DaemonMetrics? = nil
    ) throws {
        heartbeatInterval = max(.milliseconds(1), heartbeat)
        sweeperWake = try WakeSignal()
        hangups = try EpollSet()
        watcherChanges = try WakeSignal()
        deliveredSignal = try WakeSignal()
        self.logger = logger
        self.metrics = metrics
        shared = Mutex(
            Shared(
                watchers: WatcherRegistry(
                    expiry: watcherExpiry, perOwnerLimit: watchersPerOwner),
                nextHeartbeat: .now.advanced(by: heartbeatInterval)))
    }

    /// The current state and its responses.
    var published: Published? {
        shared.withLock { $0.published }
    }

    /// Counts of open SSE streams and parked long-polls.
    var subscriberCounts: (streams: Int, longPolls: Int) {
        shared.withLock { ($0.streams.count, $0.parked.count) }
    }

    /// Publishes `state`. When its `seq` is new, every SSE subscriber gets an
    /// event and every long-poll waiting on another `seq` is answered.
    func publish(_ state: GenerationState) {
        let body = JSONCodec.encode(state.json)
        let cacheHeaders = [("Cache-Control", "no-store"), ("ETag", state.entityTag)]
        let published = Published(
            state: state,
            response: HTTPResponse(
                body: Array((body + "\n").utf8), headers: [("Content-Type", "application/json")] + cacheHeaders),
            notModified: HTTPResponse(body: [], headers: cacheHeaders),
            event: Array("event: generation\nid: \(state.tag)\ndata: \(body)\n\n".utf8))
        var toResume: [HTTPConnection] = []
        shared.withLock { shared in
            let isChange = shared.published?.state.tag != state.tag
            shared.published = published
            metrics?.stateChanged(
                generation: state.generation, seq: state.seq, generationID: state.generationID, stale: state.stale)
            shared.history.record(state)
            guard isChange else { return }
            Self.broadcast(published.event, to: shared.streams.values, resuming: &toResume)
            for stream in shared.streams.values { stream.owesDelivery = true }
            let count = shared.streams.count
            shared.delivery = count == 0 ? nil : (MonotonicInstant.now, count, count, state.seq)
            for (key, (request, _)) in shared.parked
            where request.parkedFor != .change(from: state.tag) && request.parkedFor != .watchersCurrent {
                if let (_, connection) = Self.unpark(key, in: &shared) {
                    toResume.append(connection)
                }
            }
        }
        for connection in toResume {
            connection.resume()
        }
    }

    /// Waits until every SSE subscriber connected at the last change has
    /// taken it (the hub's delivery tracking settles), or `timeout` passed.
    /// Returns true when all had. Used before acknowledging a generation to the kernel.
    func waitUntilDelivered(timeout: Duration) -> Bool {
        let deadline = MonotonicInstant.now.advanced(by: timeout)
        while true {
            if shared.withLock({ $0.delivery == nil }) {
                return true
            }
            if MonotonicInstant.now >= deadline {
                return false
            }
            // Woken by the last stream taking the change (settleDelivery).
            _ = MonotonicClock.sleep(until: deadline, unlessSignalled: deliveredSignal)
            deliveredSignal.drain()
        }
    }

    /// What the source reports about itself, shown by `/readyz`.
    var sourceStatus: [(String, JSONValue)] {
        shared.withLock { $0.sourceStatus }
    }

    func reportSourceStatus(_ status: [(String, JSONValue)]) {
        shared.withLock { $0.sourceStatus = status }
    }

    /// What could not be written (the state, export files); `/readyz` is 503 while any.
    var writeProblems: [String] {
        shared.withLock { $0.writeProblems }
    }

    func reportWriteProblems(_ problems: [String]) {
        shared.withLock { $0.writeProblems = problems }
    }

    /// Sends every SSE subscriber a `clock-disruption` event. Its `id` is the
    /// current state's `<instance>.<seq>`: every stream has that state's event
    /// queued before this one, so resuming from it misses nothing, and
    /// clients that report a missing id as none (sseclient-py) keep a resume point.
    func publishClockDisruption(marker: UInt64, atMilliseconds: Int64) {
        metrics?.clockDisrupted()
        let body = JSONCodec.encode(
            .object([
                ("disruption_marker", .uint(marker)),
                ("detected_at", .string(Timestamp.rfc3339(milliseconds: atMilliseconds))),
            ]))
        var toResume: [HTTPConnection] = []
        shared.withLock { shared in
            guard let tag = shared.published?.state.tag else { return }
            let event = Array("event: clock-disruption\nid: \(tag)\ndata: \(body)\n\n".utf8)
            Self.broadcast(event, to: shared.streams.values, resuming: &toResume)
        }
        for connection in toResume {
            connection.resume()
        }
    }

    /// Why a stream could not be opened.
    enum StreamRefusal: Error {
        /// Starting, or shutting down.
        case unavailable
        /// The named watcher could not be registered or refreshed.
        case watcher(WatcherRegistry.Refusal)
    }

    /// Registers an SSE subscriber, named `watcher` when given (registered or
    /// refreshed with `claim`).
    /// - Parameter lastEventID: the client's `Last-Event-ID`; the initial event
    ///   is skipped only when it names the current instance and `seq`
    ///   (`<instance>.<seq>`), so a new series is never skipped.
    /// - Returns: the stream, and the secret made up for a newly created watcher.
    func openStream(
        on connection: HTTPConnection, descriptor: Int32, lastEventID: String?, watcher: String?,
        claim: WatcherClaim
    ) throws(StreamRefusal) -> (stream: EventStream, secret: [UInt8]?) {
        let opened = shared.withLock { shared -> Result<(EventStream, [UInt8]?), StreamRefusal> in
            guard !shared.shuttingDown, let published = shared.published else { return .failure(.unavailable) }
            var secret: [UInt8]?
            if let watcher {
                do throws(WatcherRegistry.Refusal) {
                    let touched = try shared.watchers.touch(
                        watcher, seq: published.state.seq, claim: claim, now: .now,
                        wallNow: MonotonicClock.wallMilliseconds(), connecting: true)
                    if case .created(let made) = touched {
                        secret = made
                    }
                } catch {
                    return .failure(.watcher(error))
                }
            }
            let stream = EventStream(connection: connection, hub: self, watcher: watcher)
            stream.hangupToken = watchHangup(of: descriptor, for: .stream(ObjectIdentifier(stream)), in: &shared)
            stream.enqueue(Self.retryField)
            if lastEventID != published.state.tag {
                stream.enqueue(published.event)
            }
            shared.streams[ObjectIdentifier(stream)] = stream
            return .success((stream, secret))
        }
        let result = try opened.get()
        if watcher != nil {
            watcherChanges.signal()
        }
        return result
    }

    /// Fills `buffer` for a stream, or suspends its connection when there is nothing to send.
    func produce(for stream: EventStream, into buffer: UnsafeMutableRawBufferPointer) -> StreamChunk {
        shared.withLock { shared in
            if stream.peerGone {
                return .abort
            }
            let count = stream.take(into: buffer)
            if count > 0 {
                if stream.owesDelivery && !stream.hasQueuedBytes {
                    settleDelivery(of: stream, in: &shared)
                }
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
        shared.withLock { shared in
            shared.streams.removeValue(forKey: ObjectIdentifier(stream))
            shared.hangupTargets[stream.hangupToken] = nil
            if stream.owesDelivery {
                settleDelivery(of: stream, in: &shared)
            }
            if let watcher = stream.watcher {
                shared.watchers.disconnected(
                    watcher, now: .now, wallNow: MonotonicClock.wallMilliseconds())
            }
        }
        if stream.watcher != nil {
            watcherChanges.signal()
        }
    }

    /// Parks a request until what `reason` names happens or `deadline`
    /// passes. Returns false (nothing parked) when the answer is due now.
    func park(
        _ request: RequestContext, on connection: HTTPConnection, for reason: ParkReason,
        until deadline: MonotonicInstant
    ) -> Bool {
        let (parked, wakeSweeper) = shared.withLock { shared -> (Bool, Bool) in
            guard !shared.shuttingDown, let state = shared.published?.state else { return (false, false) }
            switch reason {
            case .change(let from):
                if from != state.tag { return (false, false) }
            case .watchersCurrent:
                if shared.watchers.outdatedCount(seq: state.seq) == 0 { return (false, false) }
            }
            request.parkedFor = reason
            request.parkedUntil = deadline
            request.wasParked = true
            shared.parked[ObjectIdentifier(request)] = (request, connection)
            if let descriptor = request.connection?.descriptor {
                request.hangupToken = watchHangup(
                    of: descriptor, for: .request(ObjectIdentifier(request)), in: &shared)
            }
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
    func sweep(now: MonotonicInstant) -> MonotonicInstant {
        var toResume: [HTTPConnection] = []
        let next = shared.withLock { shared -> MonotonicInstant in
            var next = MonotonicInstant.never
            for (key, (request, _)) in shared.parked {
                guard let deadline = request.parkedUntil else { continue }
                if deadline <= now {
                    if let (_, connection) = Self.unpark(key, in: &shared) {
                        toResume.append(connection)
                    }
                } else {
                    next = min(next, deadline)
                }
            }
            let expiry = shared.watchers.expire(now: now, wallNow: MonotonicClock.wallMilliseconds())
            next = min(next, expiry.next)
            for gone in expiry.expired {
                logger.notice(
                    "watcher expired",
                    metadata: [
                        "watcher": "\(gone.name)", "acked_seq": "\(gone.acknowledgedSeq.map(String.init) ?? "none")",
                    ])
            }
            if !expiry.expired.isEmpty {
                Self.resumeWatchersWaiters(&shared, resuming: &toResume)
                watcherChanges.signal()
            }
            if now >= shared.nextHeartbeat {
                Self.broadcast(Self.keepalive, to: shared.streams.values, resuming: &toResume)
                shared.nextHeartbeat = now.advanced(by: heartbeatInterval)
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

    /// One more stream has taken (or left before taking) the last change; the
    /// last one records the delivery latency. Call with the lock held.
    private func settleDelivery(of stream: EventStream, in shared: inout Shared) {
        stream.owesDelivery = false
        guard let delivery = shared.delivery else { return }
        if delivery.remaining <= 1 {
            let elapsed = MonotonicInstant.now.duration(since: delivery.start)
            metrics?.delivered(after: elapsed)
            logger.info(
                "change delivered",
                metadata: [
                    "seq": "\(delivery.seq)", "sse_subscribers": "\(delivery.subscribers)",
                    "latency_ms": "\(Double(elapsed.nanoseconds / 10_000) / 100)",
                ])
            shared.delivery = nil
            deliveredSignal.signal()
        } else {
            shared.delivery = (delivery.start, delivery.remaining - 1, delivery.subscribers, delivery.seq)
        }
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

    /// What a hang-up watch token stands for.
    enum HangupTarget {
        case stream(ObjectIdentifier)
        case request(ObjectIdentifier)
    }

    /// Watches `descriptor` for its peer hanging up; returns the token (0 when
    /// the watch failed, which leaves the heartbeat or deadline to notice).
    /// Call with the lock held.
    private func watchHangup(of descriptor: Int32, for target: HangupTarget, in shared: inout Shared) -> UInt64 {
        shared.lastHangupToken += 1
        let token = shared.lastHangupToken
        do {
            try hangups.watchHangup(descriptor, tag: token)
        } catch {
            return 0
        }
        shared.hangupTargets[token] = target
        return token
    }

    /// Takes a request out of the parked set (with its hang-up watch); returns
    /// it and its connection, to resume once the lock is released. Call with the lock held.
    static func unpark(_ key: ObjectIdentifier, in shared: inout Shared) -> (RequestContext, HTTPConnection)? {
        guard let entry = shared.parked.removeValue(forKey: key) else { return nil }
        shared.hangupTargets[entry.0.hangupToken] = nil
        entry.0.parkedUntil = nil
        return entry
    }

    /// Closes the streams and parked requests whose clients hung up: each is
    /// resumed so that libmicrohttpd closes it now. Called by the sweeper when
    /// ``hangups`` is readable. Returns how many were released.
    @discardableResult
    func releaseHungUp() -> Int {
        var toResume: [HTTPConnection] = []
        while true {
            let ready = hangups.ready()
            if ready.isEmpty { break }
            shared.withLock { shared in
                for (token, _) in ready {
                    guard let target = shared.hangupTargets.removeValue(forKey: token) else { continue }
                    switch target {
                    case .stream(let id):
                        guard let stream = shared.streams[id] else { continue }
                        stream.peerGone = true
                        if stream.parked {
                            stream.parked = false
                            toResume.append(stream.connection)
                        }
                    case .request(let id):
                        guard let (request, connection) = Self.unpark(id, in: &shared) else { continue }
                        request.peerGone = true
                        toResume.append(connection)
                    }
                }
            }
        }
        for connection in toResume {
            connection.resume()
        }
        if !toResume.isEmpty {
            metrics?.connectionsClosed(.hangup, count: toResume.count)
        }
        return toResume.count
    }

    /// Ends every SSE stream and answers every long-poll; refuses new ones.
    func beginShutdown() {
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
            for key in Array(shared.parked.keys) {
                if let (_, connection) = Self.unpark(key, in: &shared) {
                    toResume.append(connection)
                }
            }
        }
        for connection in toResume {
            connection.resume()
        }
    }

    /// True once `beginShutdown()` ran.
    var isShuttingDown: Bool {
        shared.withLock { $0.shuttingDown }
    }
}
