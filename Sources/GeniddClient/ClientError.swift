/// Why a request to genidd failed. Every failure of the client is one of
/// these, and ``description`` is the one place that words them.
public enum ClientError: Error, CustomStringConvertible, Sendable, Equatable {
    /// genidd could not be reached, or the connection failed mid-transfer.
    case unreachable(target: String, reason: String)
    /// genidd answered with an error status; `detail` comes from its problem+json body.
    case problem(target: String, status: Int, detail: String)
    /// The answer is not what genidd's API promises.
    case badResponse(target: String, reason: String)
    /// The event stream sent nothing, not even a keepalive, for this long.
    case stalled(target: String, milliseconds: Int)
    /// SIGTERM or SIGINT arrived.
    case interrupted

    public var description: String {
        switch self {
        case .unreachable(let target, let reason):
            return "cannot reach genidd at \(target): \(reason)"
        case .problem(let target, let status, let detail):
            return "genidd at \(target) answered \(status): \(detail)"
        case .badResponse(let target, let reason):
            return "unexpected answer from \(target): \(reason)"
        case .stalled(let target, let milliseconds):
            return "no data from \(target) for \(Self.seconds(milliseconds)) s, not even a keepalive"
        case .interrupted:
            return "interrupted"
        }
    }

    /// True for answers that retrying will not change (bad request, missing
    /// or wrong token, no such resource); false for outages and overload.
    public var isPermanent: Bool {
        guard case .problem(_, let status, _) = self else { return false }
        return [400, 401, 403, 404, 405, 415].contains(status)
    }

    /// `1.5` for 1500 ms, `45` for 45000 ms.
    static func seconds(_ milliseconds: Int) -> String {
        guard milliseconds % 1000 != 0 else { return "\(milliseconds / 1000)" }
        var fraction = String(milliseconds % 1000 + 1000).dropFirst()
        while fraction.hasSuffix("0") {
            fraction.removeLast()
        }
        return "\(milliseconds / 1000).\(fraction)"
    }
}
