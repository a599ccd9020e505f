import GeniddGeneration
import GeniddSystem

/// `/v1/watchers`: named subscribers that acknowledge generations, and the
/// orchestrator's wait until all of them have.
extension HTTPServer {
    /// The header a TCP client presents to prove it owns a watcher (and that
    /// genidd sends back when it made a secret up for a new one).
    static let watcherSecretHeader = "Genidd-Watcher-Secret"

    func watchers(_ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        try Self.rejectRepeated(["wait", "timeout", "limit", "after"], on: connection)
        let wait = connection.queryArgument("wait")
        let timeout = try LongPollRequest(wait: nil, timeout: connection.queryArgument("timeout"))
            .timeoutMilliseconds
        var limit = WatcherRegistry.defaultPageSize
        if let text = connection.queryArgument("limit") {
            guard let value = Int(text), (1...WatcherRegistry.maximumPageSize).contains(value) else {
                throw HTTPProblem(
                    status: 400,
                    detail: "limit must be from 1 to \(WatcherRegistry.maximumPageSize), got '\(text.prefix(40))'")
            }
            limit = value
        }
        let after = connection.queryArgument("after")
        if let after {
            try Self.validate(after)
        }
        if let wait {
            guard wait == "outdated-zero" else {
                throw HTTPProblem(status: 400, detail: "wait must be outdated-zero, got '\(wait.prefix(40))'")
            }
            let deadline = MonotonicInstant.now.advanced(by: .milliseconds(timeout))
            if timeout > 0, request.method == "GET",
                hub.park(request, on: connection, for: .watchersCurrent, until: deadline)
            {
                return .parked
            }
        }
        return .send(Self.json(hub.watchersJSON(after: after, limit: limit)), status: 200)
    }

    func watcher(_ name: String, _ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        try Self.validate(name)
        switch request.method {
        case "PUT":
            let claim = try watcherClaim(request, connection)
            let registered: (json: JSONValue, touched: WatcherRegistry.Touched)
            do {
                registered = try hub.registerWatcher(name, claim: claim)
            } catch {
                throw Self.problem(for: error, name: name)
            }
            guard case .created(let secret) = registered.touched else {
                return .send(Self.json(registered.json), status: 200)
            }
            guard let secret, case .object(let members) = registered.json else {
                return .send(Self.json(registered.json), status: 201)
            }
            // The only time genidd tells the secret it made up: keep it to refresh,
            // acknowledge or delete the watcher.
            let text = String(decoding: secret, as: UTF8.self)
            return .send(
                Self.json(.object(members + [("secret", .string(text))]), headers: [(Self.watcherSecretHeader, text)]),
                status: 201)
        case "DELETE":
            let claim = try watcherClaim(request, connection)
            do {
                try hub.removeWatcher(name, claim: claim)
            } catch {
                throw Self.problem(for: error, name: name)
            }
            return .send(HTTPResponse(body: [], headers: [("Cache-Control", "no-store")]), status: 204)
        default:
            guard let found = hub.watcherJSON(name) else {
                throw HTTPProblem(status: 404, detail: "no watcher named \(name)")
            }
            return .send(Self.json(found), status: 200)
        }
    }

    func acknowledge(_ name: String, _ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        try Self.validate(name)
        guard let body = try Self.jsonBody(request, connection), let seq = body["seq"]?.exactUInt64Value else {
            throw HTTPProblem(status: 400, detail: "the body must be {\"seq\": N}, the seq the watcher handled")
        }
        let claim = try watcherClaim(request, connection)
        do {
            return .send(Self.json(try hub.acknowledge(name, seq: seq, claim: claim)), status: 200)
        } catch {
            throw Self.problem(for: error, name: name)
        }
    }

    /// What the request proves about its sender: its uid on the Unix socket,
    /// the watcher secret it presents, whether it is an admin.
    func watcherClaim(_ request: RequestContext, _ connection: HTTPConnection) throws -> WatcherClaim {
        var secret: [UInt8]?
        if let header = connection.header(Self.watcherSecretHeader) {
            let bytes = Array(header.trimmingWhitespace().utf8)
            guard WatcherName.isValidSecret(bytes) else {
                throw HTTPProblem(
                    status: 400,
                    detail: "\(Self.watcherSecretHeader) must be 16 to 128 printable ASCII characters without spaces")
            }
            secret = bytes
        }
        return WatcherClaim(
            uid: request.peerCredentials?.uid, secret: secret,
            isAdmin: currentPolicy.grantsAdmin(credentials(request, connection)),
            peer: request.connection?.peer.key ?? HTTPPeer.unknown.key)
    }

    static func problem(for refusal: WatcherRegistry.Refusal, name: String) -> HTTPProblem {
        switch refusal {
        case .full:
            return HTTPProblem(
                status: 429, detail: "too many watchers are registered", headers: [("Retry-After", "5")])
        case .ownerLimit(let peer, let limit):
            return HTTPProblem(
                status: 429, detail: "\(peer) already holds \(limit) watchers (--max-watchers-per-owner)",
                headers: [("Retry-After", "5")])
        case .notOwner(let owner):
            return notOwner(name, owner)
        }
    }

    static func problem(for error: WatcherRegistry.AcknowledgementError, name: String) -> HTTPProblem {
        switch error {
        case .unknownWatcher:
            return HTTPProblem(status: 404, detail: "no watcher named \(name); register it with PUT first")
        case .notOwner(let owner):
            return notOwner(name, owner)
        case .stale(let acknowledged, let current):
            return HTTPProblem(
                status: 409,
                detail: "seq \(acknowledged) is stale: the current seq is \(current); handle it, then acknowledge it")
        case .future(let acknowledged, let current):
            return HTTPProblem(
                status: 409, detail: "seq \(acknowledged) has not happened yet: the current seq is \(current)")
        }
    }

    private static func notOwner(_ name: String, _ owner: String) -> HTTPProblem {
        HTTPProblem(
            status: 403,
            detail:
                "watcher \(name) belongs to \(owner); present its \(watcherSecretHeader), connect as its uid, "
                + "or use an admin credential")
    }

    static func validate(_ name: String) throws {
        if !WatcherName.isValid(name) {
            throw HTTPProblem(status: 400, detail: "watcher names are 1-64 of A-Z a-z 0-9 . _ - (not starting with .)")
        }
    }
}
