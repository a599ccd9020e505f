import GeniddGeneration
import GeniddSystem

/// Who may do what: admin calls need a Unix-socket peer whose uid or gid is
/// listed, or the admin bearer token; reads are open unless a read token is
/// configured. Tokens are compared in constant time, and admin calls that
/// carry proxy headers are refused (a proxy in front is a sign of request forgery).
///
/// With ``readTokenInQuery`` (`--read-token-query`) the read token may also
/// come as the `access_token` query argument of a `GET` or `HEAD`, for
/// browsers' `EventSource`, which cannot send headers. The admin token is
/// never taken from a query: one that arrives there is refused.
struct AccessPolicy: Sendable {
    var adminUIDs: Set<UInt32> = []
    var adminGIDs: Set<UInt32> = []
    var adminToken: [UInt8]?
    var readToken: [UInt8]?
    /// `--read-token-query`: reads may present the read token as `access_token`.
    var readTokenInQuery = false

    /// The query argument that carries the read token.
    static let queryTokenName = "access_token"

    init() {}

    /// What the request brings: its listener, Unix peer credentials, headers.
    struct Credentials: Sendable {
        var listener: ListenerKind
        var peer: (uid: UInt32, gid: UInt32)?
        var authorization: String?
        var forwarded: Bool
        /// The `access_token` query argument of a `GET` or `HEAD`, if any.
        var queryToken: [UInt8]? = nil
    }

    /// Throws a 401/403 problem when `credentials` do not grant `level`.
    func authorize(_ level: AccessLevel, _ credentials: Credentials) throws(HTTPProblem) {
        let token = Self.bearerToken(credentials.authorization)
        let challenge = [("WWW-Authenticate", "Bearer realm=\"genidd\"")]
        switch level {
        case .open:
            return
        case .read:
            if let query = credentials.queryToken, adminToken.map({ ConstantTime.equal(query, $0) }) == true {
                throw HTTPProblem(
                    status: 401,
                    detail: "the admin token is never accepted as \(Self.queryTokenName): replace it, it was exposed",
                    headers: challenge)
            }
            guard let readToken else { return }
            if isAdminPeer(credentials) { return }
            if let token,
                ConstantTime.equal(token, readToken) || adminToken.map({ ConstantTime.equal(token, $0) }) == true
            {
                return
            }
            if readTokenInQuery, let query = credentials.queryToken, ConstantTime.equal(query, readToken) {
                return
            }
            var detail = token == nil ? "this genidd requires a bearer token for reads" : "invalid token"
            if credentials.queryToken != nil {
                detail =
                    readTokenInQuery
                    ? "invalid token"
                    : detail + " (\(Self.queryTokenName) in the query is accepted only with --read-token-query)"
            }
            throw HTTPProblem(status: 401, detail: detail, headers: challenge)
        case .admin:
            if credentials.forwarded {
                throw HTTPProblem(
                    status: 403, detail: "admin calls carrying X-Forwarded-For or Forwarded headers are refused")
            }
            if isAdminPeer(credentials) { return }
            if let token {
                if let adminToken, ConstantTime.equal(token, adminToken) { return }
                if let readToken, ConstantTime.equal(token, readToken) {
                    throw HTTPProblem(status: 403, detail: "the read token does not allow admin calls")
                }
                throw HTTPProblem(status: 401, detail: "invalid token", headers: challenge)
            }
            var detail = "admin calls need the admin bearer token"
            if credentials.listener == .unix {
                let who = credentials.peer.map { "uid \($0.uid), gid \($0.gid)" } ?? "an unknown peer"
                detail += " or a Unix socket peer listed in --admin-uid/--admin-gid (this is \(who))"
            } else {
                detail += ", or a Unix socket peer listed in --admin-uid/--admin-gid"
            }
            throw HTTPProblem(status: 401, detail: detail, headers: challenge)
        }
    }

    /// True when `credentials` would be allowed an admin call.
    func grantsAdmin(_ credentials: Credentials) -> Bool {
        (try? authorize(.admin, credentials)) != nil
    }

    private func isAdminPeer(_ credentials: Credentials) -> Bool {
        guard credentials.listener == .unix, let peer = credentials.peer else { return false }
        return adminUIDs.contains(peer.uid) || adminGIDs.contains(peer.gid)
    }

    /// The token of an `Authorization: Bearer TOKEN` header.
    static func bearerToken(_ header: String?) -> [UInt8]? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return Array(parts[1].utf8)
    }
}
