import GeniddGeneration
import GeniddSystem

/// `GET /v1/generation` (with long-poll), `GET /v1/events` and `POST /v1/generation/bump`.
extension HTTPServer {
    func generation(_ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        try Self.rejectRepeated(["wait", "timeout"], on: connection)
        let poll = try LongPollRequest(
            wait: connection.queryArgument("wait"), timeout: connection.queryArgument("timeout"))
        if let seen = poll.wait, poll.timeoutMilliseconds > 0, request.method == "GET",
            let instance = hub.published?.state.instance
        {
            // A tag from another instance never matches: the client gets the new series at once.
            let deadline = MonotonicInstant.now.advanced(by: .milliseconds(poll.timeoutMilliseconds))
            let from = seen.qualified(by: instance)
            if hub.park(request, on: connection, for: .change(from: from), until: deadline) {
                return .parked
            }
        }
        guard let current = hub.published else {
            throw HTTPProblem(status: 503, detail: "no generation known yet")
        }
        if let tags = connection.header("If-None-Match"), Self.entityTag(current.state.entityTag, matchesAnyOf: tags) {
            return .send(current.notModified, status: 304)
        }
        return .send(current.response, status: 200)
    }

    func events(_ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        let headers = [
            ("Content-Type", "text/event-stream"), ("Cache-Control", "no-store"), ("X-Accel-Buffering", "no"),
        ]
        let watcher = connection.queryArgument("watcher")
        if let watcher {
            try Self.validate(watcher)
        }
        if request.method == "HEAD" {
            return .send(HTTPResponse(body: [], headers: headers), status: 200)
        }
        let claim = try watcherClaim(request, connection)
        do {
            let (stream, secret) = try hub.openStream(
                on: connection, descriptor: request.connection?.descriptor ?? connection.socketDescriptor,
                lastEventID: connection.header("Last-Event-ID"), watcher: watcher, claim: claim)
            let secretHeader = secret.map { [(Self.watcherSecretHeader, String(decoding: $0, as: UTF8.self))] } ?? []
            return .send(HTTPResponse(streamingFrom: stream, headers: headers + secretHeader), status: 200)
        } catch .unavailable {
            throw HTTPProblem(
                status: 503, detail: "genidd is starting or shutting down", headers: [("Retry-After", "1")])
        } catch .watcher(let refusal) {
            throw Self.problem(for: refusal, name: watcher ?? "")
        }
    }

    /// Bumps the source, then answers 200 once genidd reports the new `seq`,
    /// or 202 with the state so far when that takes more than 2 s.
    func bump(_ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        guard let bumper else {
            let source = hub.published?.state.source ?? "this source"
            throw HTTPProblem(
                status: 409, detail: "\(source) cannot be bumped (only file: and sysgenid sources can)")
        }
        var minimum: UInt64?
        if let body = try Self.jsonBody(request, connection) {
            guard case .object(let members) = body, members.allSatisfy({ $0.0 == "min" }) else {
                throw HTTPProblem(status: 400, detail: "the body may only be {\"min\": N}")
            }
            if let value = body["min"] {
                guard let number = value.exactUInt64Value else {
                    throw HTTPProblem(status: 400, detail: "min must be an integer from 0 to 2^64-2")
                }
                minimum = number
            }
        }
        guard let before = hub.published?.state.tag else {
            throw HTTPProblem(status: 503, detail: "no generation known yet")
        }
        do {
            _ = try bumper.bump(minimum: minimum)
        } catch {
            throw HTTPProblem(status: 409, detail: "bump failed: \(error)")
        }
        let deadline = MonotonicInstant.now.advanced(by: .seconds(2))
        if hub.park(request, on: connection, for: .change(from: before), until: deadline) {
            return .parked
        }
        guard let published = hub.published else {
            throw HTTPProblem(status: 503, detail: "no generation known yet")
        }
        return .send(published.response, status: 200)
    }
}
