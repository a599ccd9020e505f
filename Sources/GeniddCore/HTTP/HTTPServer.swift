import Synchronization

/// Limits that keep one client from exhausting the daemon.
public struct HTTPLimits: Sendable {
    /// Open connections (all listeners together) beyond which requests get 503.
    public var maxConnections: Int
    /// Largest request body accepted (genidd's v1 routes take none).
    public var maxBodyBytes: Int

    public init(maxConnections: Int, maxBodyBytes: Int = 1024) {
        self.maxConnections = maxConnections
        self.maxBodyBytes = maxBodyBytes
    }
}

/// Answers genidd's HTTP API from the ``GenerationHub``. Called by
/// libmicrohttpd's worker threads; never blocks and never awaits.
public final class HTTPServer: HTTPRequestHandling {
    private let hub: GenerationHub
    private let limits: HTTPLimits
    private let openConnections = Atomic<Int>(0)

    public init(hub: GenerationHub, limits: HTTPLimits) {
        self.hub = hub
        self.limits = limits
    }

    /// Connections currently open across all listeners.
    public var connectionCount: Int { openConnections.load(ordering: .relaxed) }

    public var maximumBodyBytes: Int { limits.maxBodyBytes }

    public func connectionOpened() {
        openConnections.add(1, ordering: .relaxed)
    }

    public func connectionClosed() {
        openConnections.subtract(1, ordering: .relaxed)
    }

    public func respond(to request: RequestContext, on connection: HTTPConnection) -> Bool {
        if request.wasParked {
            // A long-poll resumed by a change, its deadline or shutdown: answer 200.
            guard let published = hub.published else { return false }
            return connection.queue(published.response, status: 200)
        }
        do {
            return try route(request, on: connection)
        } catch let problem as HTTPProblem {
            return connection.queue(problem.response(), status: problem.status)
        } catch {
            return connection.queue(HTTPProblem(status: 500, detail: "internal error").response(), status: 500)
        }
    }

    private func route(_ request: RequestContext, on connection: HTTPConnection) throws -> Bool {
        if connectionCount > limits.maxConnections {
            throw HTTPProblem(
                status: 503, detail: "too many open connections (limit \(limits.maxConnections)); retry later",
                headers: [("Retry-After", "1"), ("Connection", "close")])
        }
        if request.bodyBytes > limits.maxBodyBytes {
            throw HTTPProblem(
                status: 413, detail: "request body larger than \(limits.maxBodyBytes) bytes",
                headers: [("Connection", "close")])
        }
        guard let route = Route(rawValue: request.path) else {
            throw HTTPProblem(status: 404, detail: "no such resource: \(request.path.prefix(200))")
        }
        guard route.allowedMethods.contains(request.method) else {
            throw HTTPProblem(
                status: 405, detail: "\(request.method.prefix(20)) is not allowed on \(route.rawValue)",
                headers: [("Allow", route.allowedMethods.joined(separator: ", "))])
        }
        switch route {
        case .generation:
            return try generation(request, on: connection)
        case .events:
            return try events(request, on: connection)
        case .healthz:
            return connection.queue(Self.healthy, status: 200)
        case .readyz:
            return try readiness(on: connection)
        }
    }

    private static let healthy = HTTPResponse(
        body: Array("{\"status\":\"ok\"}\n".utf8),
        headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")])

    private func generation(_ request: RequestContext, on connection: HTTPConnection) throws -> Bool {
        for name in ["wait", "timeout"] where connection.queryArgumentCount(name) > 1 {
            throw HTTPProblem(status: 400, detail: "\(name) is given more than once")
        }
        let poll = try LongPollRequest(
            wait: connection.queryArgument("wait"), timeout: connection.queryArgument("timeout"))
        guard let published = hub.published else {
            throw HTTPProblem(status: 503, detail: "no generation known yet")
        }
        if let seq = poll.waitSeq, poll.timeoutMilliseconds > 0, request.method == "GET" {
            let deadline = MonotonicClock.nanoseconds() + UInt64(poll.timeoutMilliseconds) * 1_000_000
            if hub.park(request, on: connection, whileSeqIs: seq, until: deadline) {
                // libmicrohttpd calls the handler again once the hub resumes the connection.
                request.answered = false
                return true
            }
        }
        let current = hub.published ?? published
        if let tags = connection.header("If-None-Match"), Self.entityTag(current.state.entityTag, matchesAnyOf: tags) {
            return connection.queue(current.notModified, status: 304)
        }
        return connection.queue(current.response, status: 200)
    }

    private func events(_ request: RequestContext, on connection: HTTPConnection) throws -> Bool {
        let headers = [
            ("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"), ("X-Accel-Buffering", "no"),
        ]
        if request.method == "HEAD" {
            return connection.queue(HTTPResponse(body: [], headers: headers), status: 200)
        }
        guard let stream = hub.openStream(on: connection, lastEventID: connection.header("Last-Event-ID")) else {
            throw HTTPProblem(status: 503, detail: "genidd is shutting down", headers: [("Retry-After", "1")])
        }
        return connection.queue(HTTPResponse(streamingFrom: stream, headers: headers), status: 200)
    }

    private func readiness(on connection: HTTPConnection) throws -> Bool {
        guard let state = hub.published?.state, !hub.isShuttingDown else {
            throw HTTPProblem(status: 503, detail: "genidd is shutting down")
        }
        if state.stale {
            throw HTTPProblem(
                status: 503, detail: "source \(state.source) is failing: \(state.staleReason ?? "unknown problem")")
        }
        let body = JSONValue.object(
            [("status", .string("ready")), ("source", .string(state.source)), ("seq", .uint(state.seq))]
                + hub.sourceStatus)
        let response = HTTPResponse(
            body: Array((JSONCodec.encode(body) + "\n").utf8),
            headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
        return connection.queue(response, status: 200)
    }

    /// `If-None-Match` comparison (RFC 9110 §13.1.2, weak comparison): `*` or
    /// any listed tag equal to `tag`.
    static func entityTag(_ tag: String, matchesAnyOf header: String) -> Bool {
        let opaque = tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag
        for candidate in header.split(separator: ",") {
            var trimmed = String(candidate).trimmingWhitespace()
            if trimmed == "*" {
                return true
            }
            if trimmed.hasPrefix("W/") {
                trimmed.removeFirst(2)
            }
            if trimmed == opaque {
                return true
            }
        }
        return false
    }
}
