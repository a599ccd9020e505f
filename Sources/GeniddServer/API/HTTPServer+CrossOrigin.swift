import GeniddGeneration
import GeniddSystem

/// CORS: which answers carry `Access-Control-*` headers, `OPTIONS`
/// preflights, and the refusal of every write a browser sends (any request
/// with `Origin` and a method other than `GET`, `HEAD` or `OPTIONS`).
extension HTTPServer {
    /// Methods that only read: the ones pages on other origins may use, and
    /// the only ones that may carry `access_token`.
    static let readMethods = ["GET", "HEAD"]

    /// Headers added to every answer of `request` (errors included, so that
    /// an allowed page can read a 401's problem): for a `GET` or `HEAD` with
    /// an allowed `Origin`, the CORS headers; with another `Origin`, only
    /// `Vary: Origin` (the answer differs by origin). None without CORS configured.
    func crossOriginHeaders(_ request: RequestContext, _ connection: HTTPConnection) -> [(String, String)] {
        guard !crossOrigin.isEmpty, request.route?.isCrossOriginReadable == true,
            Self.readMethods.contains(request.method), let origin = connection.header("Origin")
        else { return [] }
        guard let allowed = crossOrigin.allowOriginValue(for: origin) else {
            return [("Vary", "Origin")]
        }
        return [
            ("Access-Control-Allow-Origin", allowed), ("Vary", "Origin"), ("Access-Control-Expose-Headers", "ETag"),
        ]
    }

    /// Refuses writes from web pages: a browser sends `Origin` with every
    /// `POST`, `PUT` and `DELETE`, and genidd lets pages read only.
    func refuseWriteFromPage(_ request: RequestContext, _ connection: HTTPConnection) throws {
        guard request.method != "OPTIONS", !Self.readMethods.contains(request.method),
            let origin = connection.header("Origin")
        else { return }
        throw HTTPProblem(
            status: 403,
            detail:
                "\(request.method.prefix(20)) from a web page (Origin: \(origin.prefix(100))) is refused: "
                + "pages may only read genidd")
    }

    /// `OPTIONS` on a route that reads: a CORS preflight when it carries
    /// `Origin` and `Access-Control-Request-Method`, else the route's `Allow`.
    func options(_ route: Route, _ request: RequestContext, on connection: HTTPConnection) throws -> Reply {
        if case .watcher(let name) = route {
            try Self.validate(name)
        }
        let allow = ("Allow", route.allowedMethods.joined(separator: ", "))
        guard let origin = connection.header("Origin"),
            let method = connection.header("Access-Control-Request-Method")
        else {
            return .send(HTTPResponse(body: [], headers: [allow]), status: 204)
        }
        let vary = ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        guard let allowed = crossOrigin.allowOriginValue(for: origin) else {
            // No CORS headers: the browser refuses the page's request.
            let detail =
                crossOrigin.isEmpty
                ? "this genidd lets no page on another origin read it (genidd serve --cors-origin ORIGIN allows one)"
                : "origin '\(origin.prefix(100))' is not one of the --cors-origin values"
            throw HTTPProblem(status: 403, detail: detail, headers: [allow, vary])
        }
        guard Self.readMethods.contains(method) else {
            throw HTTPProblem(
                status: 403, detail: "pages on other origins may only GET and HEAD, not \(method.prefix(20))",
                headers: [allow, vary])
        }
        let permitted = Set(CrossOriginPolicy.allowedRequestHeaders.map { $0.lowercased() })
        let requested = (connection.header("Access-Control-Request-Headers") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters().lowercased() }
        if let refused = requested.first(where: { !$0.isEmpty && !permitted.contains($0) }) {
            throw HTTPProblem(
                status: 403,
                detail:
                    "pages on other origins may not send the header '\(refused.prefix(60))'; they may send "
                    + CrossOriginPolicy.allowedRequestHeaders.joined(separator: ", "),
                headers: [allow, vary])
        }
        return .send(
            HTTPResponse(
                body: [],
                headers: [
                    ("Access-Control-Allow-Origin", allowed),
                    ("Access-Control-Allow-Methods", Self.readMethods.joined(separator: ", ")),
                    ("Access-Control-Allow-Headers", CrossOriginPolicy.allowedRequestHeaders.joined(separator: ", ")),
                    ("Access-Control-Max-Age", String(CrossOriginPolicy.preflightMaxAgeSeconds)),
                    vary, allow,
                ]),
            status: 204)
    }
}
