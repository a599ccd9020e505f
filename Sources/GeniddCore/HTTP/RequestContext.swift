/// State kept for one request across libmicrohttpd's calls to the access handler.
public final class RequestContext: @unchecked Sendable {
    // Unchecked: touched only on the connection's worker thread, and by the hub
    // under its lock while the connection is suspended.
    public let method: String
    public let path: String
    /// The route the path resolved to (nil before routing, or for unknown paths).
    public var route: Route?
    /// Which listener accepted the connection.
    public let listener: ListenerKind
    /// Request body bytes seen so far.
    public var bodyBytes = 0
    /// The body itself, kept while it stays within the handler's limit.
    public var body: [UInt8] = []
    /// Set while a long-poll is parked; the hub clears it when it resumes the connection.
    public var parkedUntil: UInt64?
    /// What a parked request waits for.
    public var parkedFor = ParkReason.change(from: "")
    /// True once a long-poll was parked and later resumed.
    public var wasParked = false
    /// True once `respond` ran (again only for a resumed long-poll).
    var answered = false

    init(method: String, path: String, listener: ListenerKind) {
        self.method = method
        self.path = path
        self.listener = listener
    }
}

/// What a parked request waits for before it is answered.
public enum ParkReason: Sendable, Equatable {
    /// A long-poll: the state's tag (`<instance>.<seq>`) moving away from this value.
    case change(from: String)
    /// `GET /v1/watchers?wait=outdated-zero`: no outdated watcher left.
    case watchersCurrent
}
