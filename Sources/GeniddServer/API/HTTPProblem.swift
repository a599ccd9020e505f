import GeniddGeneration
import GeniddSystem

/// An error response in `application/problem+json` (RFC 9457), the only
/// way genidd reports a failed request.
struct HTTPProblem: Error, Sendable, Equatable {
    var status: Int
    var detail: String
    /// Extra response headers, such as `Allow` for 405.
    var headers: [(String, String)] = []

    init(status: Int, detail: String, headers: [(String, String)] = []) {
        self.status = status
        self.detail = detail
        self.headers = headers
    }

    static func == (lhs: HTTPProblem, rhs: HTTPProblem) -> Bool {
        lhs.status == rhs.status && lhs.detail == rhs.detail
            && lhs.headers.map { $0.0 + ":" + $0.1 } == rhs.headers.map { $0.0 + ":" + $0.1 }
    }

    /// The standard reason phrase, used as `title` (as RFC 9457 asks for `about:blank`).
    var title: String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 421: return "Misdirected Request"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        default: return "Error"
        }
    }

    /// The JSON body.
    var json: JSONValue {
        .object([
            ("type", .string("about:blank")),
            ("title", .string(title)),
            ("status", .int(Int64(status))),
            ("detail", .string(detail)),
        ])
    }

    /// A libmicrohttpd response carrying this problem.
    func response() -> HTTPResponse {
        HTTPResponse(
            body: Array((JSONCodec.encode(json) + "\n").utf8),
            headers: [("Content-Type", "application/problem+json"), ("Cache-Control", "no-store")] + headers)
    }
}
