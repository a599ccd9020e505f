import GeniddGeneration
import GeniddSystem

/// What the server layer implements for libmicrohttpd. Every method is
/// called on a libmicrohttpd worker thread and must never block.
protocol HTTPRequestHandling: AnyObject, Sendable {
    /// A connection was accepted. Returns false to refuse it (the binding
    /// shuts its socket down at once); may set its `admission`.
    func connectionOpened(_ connection: HTTPConnectionRecord) -> Bool
    /// A connection was closed; its descriptor must not be touched any more.
    func connectionClosed(_ connection: HTTPConnectionRecord)
    /// The headers of a request are in, before any body is read. Returns
    /// true when the handler has already answered (an error: the binding
    /// then neither reads the body nor calls `respond`).
    func screen(_ request: RequestContext, on connection: HTTPConnection) -> Bool
    /// Called once the request (and any body) has been received; must queue a
    /// response, or suspend the connection (park the request), or ask to close it.
    func respond(to request: RequestContext, on connection: HTTPConnection) -> HTTPHandling
    /// A request's response was sent (or the request ended otherwise); the
    /// connection may carry another.
    func requestEnded(_ request: RequestContext)
    /// Bodies larger than this are answered with 413 before they are read in full.
    var maximumBodyBytes: Int { get }
}

/// The kind of socket a request arrived on.
enum ListenerKind: Sendable, Equatable {
    case tcp
    case unix
}

/// What a handler did with a request.
enum HTTPHandling: Sendable, Equatable {
    /// A response is queued.
    case queued
    /// The connection is suspended; the handler is called again once it is
    /// resumed, to answer then.
    case parked
    /// Close the connection without an answer (libmicrohttpd refused the
    /// response, or the client is gone).
    case close
}
