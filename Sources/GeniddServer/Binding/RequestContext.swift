import GeniddGeneration
import GeniddSystem

/// State kept for one request across libmicrohttpd's calls to the access handler.
final class RequestContext: @unchecked Sendable {
    // Unchecked: touched only on the connection's worker thread, and by the hub
    // under its lock while the connection is suspended.
    /// The method and decoded path, set once the headers are in.
    var method = ""
    var path = "/"
    /// What the raw target held before decoding (encoded separators, query size).
    var target = RequestTarget()
    /// The HTTP version from the request line (`HTTP/1.1`).
    var version = ""
    /// The route the path resolved to (nil before routing, or for unknown paths).
    var route: Route?
    /// Which listener accepted the connection.
    let listener: ListenerKind
    /// The connection the request arrived on (nil only when libmicrohttpd gave none).
    let connection: HTTPConnectionRecord?
    /// Request body bytes seen so far.
    var bodyBytes = 0
    /// The body itself, kept while it stays within the handler's limit.
    var body: [UInt8] = []
    /// Set while a long-poll is parked; the hub clears it when it resumes the connection.
    var parkedUntil: MonotonicInstant?
    /// What a parked request waits for.
    var parkedFor = ParkReason.change(from: "")
    /// True once a long-poll was parked and later resumed.
    var wasParked = false
    /// Set by the hub when the client hung up while the request was parked:
    /// the answer would go nowhere, so the connection is closed instead.
    var peerGone = false
    /// The parked request's hang-up watch token in the hub (0: not watched).
    var hangupToken: UInt64 = 0
    /// True once `respond` ran (again only for a resumed long-poll).
    var answered = false
    /// True once the headers were in and `screen` ran.
    var headersSeen = false

    init(listener: ListenerKind, connection: HTTPConnectionRecord?) {
        self.listener = listener
        self.connection = connection
    }

    /// The Unix peer's uid and gid, when the request came over the Unix socket.
    var peerCredentials: (uid: UInt32, gid: UInt32)? {
        guard listener == .unix, case .user(let uid, let gid)? = connection?.peer else { return nil }
        return (uid, gid)
    }
}

/// What a parked request waits for before it is answered.
enum ParkReason: Sendable, Equatable {
    /// A long-poll: the state's tag (`<instance>.<seq>`) moving away from this value.
    case change(from: String)
    /// `GET /v1/watchers?wait=outdated-zero`: no outdated watcher left.
    case watchersCurrent
}
