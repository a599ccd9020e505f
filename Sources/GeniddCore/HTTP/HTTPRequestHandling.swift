/// What the server layer implements for libmicrohttpd.
public protocol HTTPRequestHandling: AnyObject, Sendable {
    /// Called once the request (and any body) has been received; must queue a
    /// response or suspend. Returns false to close the connection.
    func respond(to request: RequestContext, on connection: HTTPConnection) -> Bool
    /// Bodies larger than this are answered with 413 before they are read in full.
    var maximumBodyBytes: Int { get }
    /// A connection was accepted.
    func connectionOpened()
    /// A connection was closed.
    func connectionClosed()
}

/// The kind of socket a request arrived on.
public enum ListenerKind: Sendable, Equatable {
    case tcp
    case unix
}
