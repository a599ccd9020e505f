import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Talks to one genidd: its state, long-polls, acknowledgements and event
/// stream, with libcurl. Not thread-safe: one command's thread uses it.
public final class DaemonClient {
    public let address: DaemonAddress
    private let token: [UInt8]?
    /// Short requests (state, long-poll, acknowledgements).
    private let requests: CurlSession
    /// The event stream, on its own handle so that acknowledgements can be
    /// sent while it stays open.
    private let stream: CurlSession

    /// Proves ownership of the watcher this client subscribes and acknowledges
    /// as (`Genidd-Watcher-Secret`); genidd stores it when it creates the watcher.
    public var watcherSecret: String?

    /// Longest long-poll genidd accepts (`timeout` 0–300 s).
    public static let maximumPollMilliseconds = 300_000

    /// - Parameters:
    ///   - token: the bearer token for `Authorization`, when genidd asks for one.
    ///   - signals: when given, transfers end with ``ClientError/interrupted`` on SIGTERM or SIGINT.
    public init(address: DaemonAddress, token: [UInt8]?, signals: StopSignals? = nil, userAgent: String) throws {
        self.address = address
        self.token = token
        requests = try CurlSession(address: address, signals: signals, userAgent: userAgent)
        stream = try CurlSession(address: address, signals: signals, userAgent: userAgent)
    }

    /// `GET /v1/generation`.
    public func state() throws -> GenerationSnapshot {
        try snapshot(from: requests.perform(request("/v1/generation", accept: "application/json", timeout: 10_000)))
    }

    /// `GET /v1/generation?wait=TAG&timeout=…`: answers once the state differs
    /// from `seen` or after `milliseconds` (then with the unchanged state).
    public func state(waitingFrom seen: StateTag, milliseconds: Int) throws -> GenerationSnapshot {
        let clamped = min(max(0, milliseconds), Self.maximumPollMilliseconds)
        let path = "/v1/generation?wait=\(seen)&timeout=\(ClientError.seconds(clamped))"
        // The daemon answers at its deadline; allow it some slack before calling the connection dead.
        let reply = try requests.perform(request(path, accept: "application/json", timeout: clamped + 10_000))
        return try snapshot(from: reply)
    }

    /// Long-polls until genidd's state differs from `seen`, re-issuing the
    /// long-poll while `timeoutMilliseconds` allows (nil: forever). Returns
    /// nil when the time ran out. The first request must reach genidd; after
    /// that, outages (a daemon restart) are retried with backoff. A bare
    /// `seq` is pinned to the instance of the first answer, so that a restart
    /// into a new series (whose numbers start again) is seen as a change.
    public func waitForChange(from seen: StateTag, timeoutMilliseconds: Int?, logger: Logger) throws
        -> GenerationSnapshot?
    {
        let deadline = timeoutMilliseconds.map { MonotonicInstant.now.advanced(by: .milliseconds($0)) }
        var seen = seen
        var reached = false
        var backoff = ReconnectBackoff()
        var random = SystemRandomNumberGenerator()
        while true {
            let remaining = deadline.map { Self.milliseconds(until: $0) } ?? Self.maximumPollMilliseconds
            do {
                let current = try state(waitingFrom: seen, milliseconds: remaining)
                if current.seq != seen.seq || current.instance != (seen.instance ?? current.instance) {
                    return current
                }
                seen.instance = current.instance
                reached = true
                backoff.reset()
            } catch let error as ClientError where reached && !error.isPermanent {
                let delay = min(
                    backoff.nextDelay(using: &random), deadline.map { Self.milliseconds(until: $0) } ?? .max)
                logger.info("\(error); retrying in \(ClientError.seconds(delay)) s")
                _ = poll(nil, 0, Int32(clamping: delay))
            }
            if let deadline, MonotonicInstant.now >= deadline {
                return nil
            }
        }
    }

    /// `GET /healthz` or `GET /readyz`: genidd's answer on 200. Anything else
    /// throws ``ClientError``: for an error status with genidd's problem
    /// detail (why it is not ready), and for any other 2xx as well.
    public func check(_ probe: HealthProbe, timeoutMilliseconds: Int) throws -> String {
        let reply = try requests.perform(request(probe.path, accept: "application/json", timeout: timeoutMilliseconds))
        try checkStatus(reply)
        guard reply.status == 200 else {
            throw ClientError.badResponse(
                target: address.description, reason: "\(probe.path) answered \(reply.status) instead of 200")
        }
        return String(decoding: reply.body, as: UTF8.self).trimmingWhitespace()
    }

    /// `POST /v1/watchers/NAME/ack` with `{"seq": N}`.
    public func acknowledge(watcher: String, seq: UInt64) throws {
        var ack = request("/v1/watchers/\(watcher)/ack", accept: "application/json", timeout: 10_000)
        ack.headers.append("Content-Type: application/json")
        if let watcherSecret {
            ack.headers.append("Genidd-Watcher-Secret: \(watcherSecret)")
        }
        ack.body = Array(JSONCodec.encode(.object([("seq", .uint(seq))])).utf8)
        try checkStatus(requests.perform(ack))
    }

    /// `GET /v1/events[?watcher=NAME]` with `Last-Event-ID`, until the stream
    /// ends (returns), fails, stalls, or `handler` ends it.
    func subscribe(
        lastEventID: String?, watcher: String?, stallMilliseconds: Int, handler: any EventStreamHandler
    ) throws {
        var subscription = request(
            "/v1/events" + (watcher.map { "?watcher=\($0)" } ?? ""), accept: "text/event-stream", timeout: nil)
        if let lastEventID {
            subscription.headers.append("Last-Event-ID: \(lastEventID)")
        }
        if watcher != nil, let watcherSecret {
            subscription.headers.append("Genidd-Watcher-Secret: \(watcherSecret)")
        }
        subscription.stallMilliseconds = stallMilliseconds
        let reply: ClientResponse
        do {
            reply = try stream.perform(subscription, receiver: EventStreamReceiver(handler: handler))
        } catch let error as EventStreamError {
            throw ClientError.badResponse(target: address.description, reason: "\(error)")
        }
        try checkStatus(reply)
        guard reply.mediaType == "text/event-stream" else {
            throw ClientError.badResponse(
                target: address.description,
                reason: "expected an event stream, got \(reply.contentType ?? "no Content-Type")")
        }
    }

    private func request(_ path: String, accept: String, timeout: Int?) -> ClientRequest {
        var headers = ["Accept: \(accept)"]
        if let token {
            headers.append("Authorization: Bearer \(String(decoding: token, as: UTF8.self))")
        }
        return ClientRequest(path: path, headers: headers, timeoutMilliseconds: timeout)
    }

    private func snapshot(from reply: ClientResponse) throws -> GenerationSnapshot {
        try checkStatus(reply)
        do {
            return try GenerationSnapshot(text: reply.body)
        } catch {
            throw ClientError.badResponse(target: address.description, reason: "\(error)")
        }
    }

    /// Throws ``ClientError/problem(target:status:detail:)`` for a non-2xx
    /// answer, with the `detail` of its problem+json body when it has one.
    private func checkStatus(_ reply: ClientResponse) throws {
        guard !(200..<300).contains(reply.status) else { return }
        var detail = String(decoding: reply.body.prefix(200), as: UTF8.self).trimmingWhitespace()
        if let problem = try? JSONCodec.decode(reply.body), let text = problem["detail"]?.stringValue {
            detail = text
        }
        if detail.isEmpty {
            detail = "no details given"
        }
        throw ClientError.problem(target: address.description, status: reply.status, detail: detail)
    }

    private static func milliseconds(until deadline: MonotonicInstant) -> Int {
        Int(Duration.pollTimeout(deadline.remaining ?? .zero))
    }
}
