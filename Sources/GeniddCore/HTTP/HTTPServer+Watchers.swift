/// `/v1/watchers`: named subscribers that acknowledge generations, and the
/// orchestrator's wait until all of them have.
extension HTTPServer {
    func watchers(_ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        try Self.rejectRepeated(["wait", "timeout"], on: connection)
        let wait = connection.queryArgument("wait")
        let timeout = try LongPollRequest(wait: nil, timeout: connection.queryArgument("timeout"))
            .timeoutMilliseconds
        if let wait {
            guard wait == "outdated-zero" else {
                throw HTTPProblem(status: 400, detail: "wait must be outdated-zero, got '\(wait.prefix(40))'")
            }
            let deadline = MonotonicClock.nanoseconds() + UInt64(timeout) * 1_000_000
            if timeout > 0, request.method == "GET",
                hub.park(request, on: connection, for: .watchersCurrent, until: deadline)
            {
                request.answered = false
                return .parked
            }
        }
        return .send(Self.json(hub.watchersJSON()), status: 200)
    }

    func watcher(_ name: String, _ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        try Self.validate(name)
        switch request.method {
        case "PUT":
            guard let (json, created) = hub.registerWatcher(name) else {
                throw HTTPProblem(
                    status: 429, detail: "too many watchers are registered", headers: [("Retry-After", "5")])
            }
            return .send(Self.json(json), status: created ? 201 : 200)
        case "DELETE":
            guard hub.removeWatcher(name) else {
                throw HTTPProblem(status: 404, detail: "no watcher named \(name)")
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
        do {
            return .send(Self.json(try hub.acknowledge(name, seq: seq)), status: 200)
        } catch .unknownWatcher {
            throw HTTPProblem(status: 404, detail: "no watcher named \(name); register it with PUT first")
        } catch .stale(let acknowledged, let current) {
            throw HTTPProblem(
                status: 409,
                detail: "seq \(acknowledged) is stale: the current seq is \(current); handle it, then acknowledge it")
        } catch .future(let acknowledged, let current) {
            throw HTTPProblem(
                status: 409, detail: "seq \(acknowledged) has not happened yet: the current seq is \(current)")
        }
    }

    static func validate(_ name: String) throws {
        if !WatcherRegistry.isValidName(name) {
            throw HTTPProblem(status: 400, detail: "watcher names are 1-64 of A-Z a-z 0-9 . _ - (not starting with .)")
        }
    }
}
