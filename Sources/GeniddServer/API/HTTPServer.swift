import GeniddGeneration
import GeniddSystem
import Synchronization

/// Limits that keep one client from exhausting the daemon.
struct HTTPLimits: Sendable {
    /// Largest request body accepted (acknowledgements and bumps are tiny JSON).
    var maxBodyBytes: Int

    init(maxBodyBytes: Int = 1024) {
        self.maxBodyBytes = maxBodyBytes
    }
}

/// Answers genidd's HTTP API from the ``GenerationHub``. Called by
/// libmicrohttpd's worker threads; never blocks and never awaits. Routes live
/// in `HTTPServer+Generation.swift` and `HTTPServer+Watchers.swift`, the
/// checks every request passes before them in `HTTPServer+Screening.swift`.
final class HTTPServer: HTTPRequestHandling {
    let hub: GenerationHub
    let limits: HTTPLimits
    /// Open connections per peer, and idle connections' deadlines.
    let connections: ConnectionTable
    /// Which `Host` values TCP requests may carry.
    let hostCheck: HostCheck
    /// Which pages on other origins may read (`--cors-origin`).
    let crossOrigin: CrossOriginPolicy
    /// Replaced whole when token files are re-read (SIGHUP).
    private let policy: Mutex<AccessPolicy>
    /// Replaced when a reload switches sources.
    private let bumperSlot: Mutex<(any GenerationBumper)?>
    var bumper: (any GenerationBumper)? { bumperSlot.withLock { $0 } }
    let metrics: DaemonMetrics?

    init(
        hub: GenerationHub, limits: HTTPLimits, connections: ConnectionTable, hostCheck: HostCheck = HostCheck(),
        crossOrigin: CrossOriginPolicy = CrossOriginPolicy(), policy: AccessPolicy, bumper: (any GenerationBumper)?,
        metrics: DaemonMetrics? = nil
    ) {
        self.hub = hub
        self.limits = limits
        self.connections = connections
        self.hostCheck = hostCheck
        self.crossOrigin = crossOrigin
        self.policy = Mutex(policy)
        bumperSlot = Mutex(bumper)
        self.metrics = metrics
    }

    /// Who may do what, from now on (new tokens after SIGHUP).
    func replacePolicy(_ newPolicy: AccessPolicy) {
        policy.withLock { $0 = newPolicy }
    }

    /// The access policy in force.
    var currentPolicy: AccessPolicy { policy.withLock { $0 } }

    /// What `POST /v1/generation/bump` uses from now on (another source after a reload).
    func replaceBumper(_ newBumper: (any GenerationBumper)?) {
        bumperSlot.withLock { $0 = newBumper }
    }

    /// Connections currently open across all listeners.
    var connectionCount: Int { connections.count }

    var maximumBodyBytes: Int { limits.maxBodyBytes }

    func connectionOpened(_ connection: HTTPConnectionRecord) -> Bool {
        if connections.open(connection) {
            return true
        }
        metrics?.connectionsClosed(.refused, count: 1)
        return false
    }

    func connectionClosed(_ connection: HTTPConnectionRecord) {
        connections.close(connection)
    }

    func requestEnded(_ request: RequestContext) {
        if let connection = request.connection {
            connections.requestEnded(on: connection)
        }
    }

    /// What a handler decided: a response to queue, or a request parked in the hub.
    enum Reply {
        case send(HTTPResponse, status: Int)
        case parked
    }

    func respond(to request: RequestContext, on connection: HTTPConnection) -> HTTPHandling {
        if request.peerGone {
            // Parked until its client hung up: closing is the only answer left.
            return .close
        }
        let reply: Reply
        do {
            // A parked request comes back here once resumed by what it waited
            // for, by its deadline, or by shutdown.
            reply = try request.wasParked ? answerResumed(request, on: connection) : route(request, on: connection)
        } catch let problem as HTTPProblem {
            reply = .send(problem.response(), status: problem.status)
        } catch {
            reply = .send(HTTPProblem(status: 500, detail: "internal error").response(), status: 500)
        }
        switch reply {
        case .parked:
            return .parked
        case .send(let response, let status):
            metrics?.request(route: request.route?.template ?? "other", status: status)
            let answer = response.adding(crossOriginHeaders(request, connection))
            return connection.queue(answer, status: status) ? .queued : .close
        }
    }

    private func answerResumed(_ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        if request.parkedFor == .watchersCurrent {
            return .send(Self.json(hub.watchersJSON()), status: 200)
        }
        guard let published = hub.published else {
            throw HTTPProblem(status: 503, detail: "no generation known yet")
        }
        if request.route == .bump, request.parkedFor == .change(from: published.state.tag) {
            // The bump was written but the source has not reported it within 2 s.
            return .send(Self.json(published.state.json), status: 202)
        }
        return .send(published.response, status: 200)
    }

    private func route(_ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        if case .probesOnly(let reason)? = request.connection?.admission, request.route?.isProbe != true {
            throw HTTPProblem(
                status: 503,
                detail: "\(reason); this connection may only ask /healthz, /readyz or /metrics, retry later",
                headers: [("Retry-After", "1"), ("Connection", "close")])
        }
        if request.bodyBytes > limits.maxBodyBytes {
            throw HTTPProblem(
                status: 413, detail: "request body larger than \(limits.maxBodyBytes) bytes",
                headers: [("Connection", "close")])
        }
        guard let route = request.route else {
            throw HTTPProblem(status: 404, detail: "no such resource: \(request.path.prefix(200))")
        }
        guard route.allowedMethods.contains(request.method) else {
            throw HTTPProblem(
                status: 405, detail: "\(request.method.prefix(20)) is not allowed on \(route.template)",
                headers: [("Allow", route.allowedMethods.joined(separator: ", "))])
        }
        if request.method == "OPTIONS" {
            return try options(route, request, on: connection)
        }
        try refuseWriteFromPage(request, connection)
        if !Self.readMethods.contains(request.method),
            connection.queryArgument(AccessPolicy.queryTokenName) != nil
        {
            throw HTTPProblem(
                status: 400,
                detail: "\(AccessPolicy.queryTokenName) is accepted only on GET and HEAD; send Authorization: Bearer")
        }
        try currentPolicy.authorize(route.access, credentials(request, connection))
        switch route {
        case .statusPage:
            return .send(StatusPage.response, status: 200)
        case .status:
            guard let status = hub.statusJSON(connections: connectionCount) else {
                throw HTTPProblem(status: 503, detail: "no generation known yet", headers: [("Retry-After", "1")])
            }
            return .send(Self.json(status), status: 200)
        case .generation:
            return try generation(request, on: connection)
        case .bump:
            return try bump(request, on: connection)
        case .events:
            return try events(request, on: connection)
        case .watchers:
            return try watchers(request, on: connection)
        case .watcher(let name):
            return try watcher(name, request, on: connection)
        case .watcherAcknowledgement(let name):
            return try acknowledge(name, request, on: connection)
        case .metrics:
            return scrape()
        case .healthz:
            return .send(Self.healthy, status: 200)
        case .readyz:
            return try readiness(on: connection)
        }
    }

    func credentials(_ request: RequestContext, _ connection: HTTPConnection) -> AccessPolicy.Credentials {
        AccessPolicy.Credentials(
            listener: request.listener,
            peer: request.peerCredentials,
            authorization: connection.header("Authorization"),
            forwarded: connection.header("X-Forwarded-For") != nil || connection.header("Forwarded") != nil,
            queryToken: Self.readMethods.contains(request.method)
                ? connection.queryArgument(AccessPolicy.queryTokenName).map { Array($0.utf8) } : nil)
    }

    private func scrape() -> Reply {
        guard let metrics else {
            return .send(HTTPProblem(status: 404, detail: "metrics are disabled").response(), status: 404)
        }
        let counts = hub.subscriberCounts
        let body = metrics.scrape(
            sse: counts.streams, longPolls: counts.longPolls, watchersOutdated: hub.outdatedWatcherCount,
            connections: connectionCount)
        return .send(
            HTTPResponse(
                body: body,
                headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8"), ("Cache-Control", "no-store")]),
            status: 200)
    }

    private static let healthy = json(.object([("status", .string("ok"))]))

    private func readiness(on connection: HTTPConnection) throws -> Reply {
        guard let state = hub.published?.state, !hub.isShuttingDown else {
            throw HTTPProblem(status: 503, detail: "genidd is shutting down")
        }
        if state.stale {
            throw HTTPProblem(
                status: 503, detail: "source \(state.source) is failing: \(state.staleReason ?? "unknown problem")")
        }
        let writeProblems = hub.writeProblems
        if !writeProblems.isEmpty {
            throw HTTPProblem(status: 503, detail: writeProblems.joined(separator: "; "))
        }
        let body = JSONValue.object(
            [("status", .string("ready")), ("source", .string(state.source)), ("seq", .uint(state.seq))]
                + hub.sourceStatus)
        return .send(Self.json(body), status: 200)
    }

    /// 400 when one of `names` appears more than once in the query.
    static func rejectRepeated(_ names: [String], on connection: HTTPConnection) throws {
        for name in names where connection.queryArgumentCount(name) > 1 {
            throw HTTPProblem(status: 400, detail: "\(name) is given more than once")
        }
    }

    /// A JSON response that must not be cached.
    static func json(_ value: JSONValue, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(
            body: Array((JSONCodec.encode(value) + "\n").utf8),
            headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")] + headers)
    }

    /// The JSON body of a POST, or nil when it is empty. Throws 415 or 400.
    static func jsonBody(_ request: RequestContext, _ connection: HTTPConnection) throws -> JSONValue? {
        guard !request.body.isEmpty else { return nil }
        let type = connection.header("Content-Type")?.split(separator: ";").first?.trimmingCharacters() ?? ""
        guard type.lowercased() == "application/json" else {
            throw HTTPProblem(status: 415, detail: "the body must be application/json")
        }
        do {
            return try JSONCodec.decode(request.body)
        } catch {
            throw HTTPProblem(status: 400, detail: "\(error)")
        }
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

extension Substring {
    func trimmingCharacters() -> String { String(self).trimmingWhitespace() }
}
