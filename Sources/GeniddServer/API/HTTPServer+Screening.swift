import GeniddGeneration
import GeniddSystem

/// The checks every request passes once its headers are in, before its body
/// is read or a route runs: framing that could smuggle a second request, a
/// `Host` a browser could have been tricked into sending, a target too large
/// to parse, a body too large to read. Each failure is answered here, as
/// problem+json, and closes the connection.
extension HTTPServer {
    func screen(_ request: RequestContext, on connection: HTTPConnection) -> Bool {
        request.route = Route(path: request.path)
        if let record = request.connection {
            connections.requestBegan(on: record)
        }
        guard let problem = problem(in: request, on: connection) else { return false }
        var headers = problem.headers
        headers.append(("Connection", "close"))
        let closing = HTTPProblem(status: problem.status, detail: problem.detail, headers: headers)
        metrics?.request(route: request.route?.template ?? Route.unmatchedLabel, status: problem.status)
        if !connection.queue(closing.response(), status: problem.status) {
            // libmicrohttpd could not take the answer: the connection is dropped.
            return true
        }
        return true
    }

    /// What is wrong with the request before routing, if anything.
    private func problem(in request: RequestContext, on connection: HTTPConnection) -> HTTPProblem? {
        let hosts = connection.headerValues("Host")
        let lengths = connection.headerValues("Content-Length")
        let encodings = connection.headerValues("Transfer-Encoding")
        if request.version == "HTTP/1.1" && hosts.isEmpty {
            return HTTPProblem(status: 400, detail: "an HTTP/1.1 request needs a Host header")
        }
        if hosts.count > 1 {
            return HTTPProblem(status: 400, detail: "more than one Host header")
        }
        if !encodings.isEmpty && !lengths.isEmpty {
            return HTTPProblem(status: 400, detail: "Content-Length and Transfer-Encoding together are ambiguous")
        }
        if encodings.count > 1 || (encodings.first.map { $0.trimmingWhitespace().lowercased() != "chunked" } ?? false) {
            return HTTPProblem(status: 400, detail: "the only Transfer-Encoding accepted is chunked")
        }
        if lengths.count > 1 {
            return HTTPProblem(status: 400, detail: "more than one Content-Length header")
        }
        if request.target.pathHasEncodedSeparator {
            return HTTPProblem(
                status: 400, detail: "the path may not encode '/', '\\' or control characters (such as %2F or %00)")
        }
        if request.target.queryDropped {
            return HTTPProblem(
                status: 414,
                detail:
                    "the query has more than \(RequestTarget.maximumQueryArguments) arguments or "
                    + "\(RequestTarget.maximumQueryBytes) bytes")
        }
        if request.listener == .tcp, let host = hosts.first, !hostCheck.allows(host) {
            return HTTPProblem(
                status: 421,
                detail:
                    "this genidd does not answer for host '\(host.prefix(100))'; use an IP address or localhost, "
                    + "or start it with --allowed-host NAME")
        }
        if let declared = lengths.first.flatMap({ Int($0.trimmingWhitespace()) }), declared > limits.maxBodyBytes {
            return HTTPProblem(status: 413, detail: "request body larger than \(limits.maxBodyBytes) bytes")
        }
        return nil
    }
}
