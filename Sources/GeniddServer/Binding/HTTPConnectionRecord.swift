import GeniddGeneration
import GeniddSystem

/// What genidd knows about one open connection, from the moment
/// libmicrohttpd accepts it until it is closed: its socket, listener and peer,
/// and how the server admitted it.
final class HTTPConnectionRecord: @unchecked Sendable {
    // Unchecked: `admission` is written once, in `connectionOpened`, before
    // any request on the connection; everything else is immutable.
    /// Unique for the process's lifetime (descriptors are reused; this is not).
    let id: UInt64
    /// The connection's socket. Valid until the server's `connectionClosed`.
    let descriptor: Int32
    let listener: ListenerKind
    let peer: HTTPPeer
    /// How the server admitted the connection.
    var admission = Admission.admitted

    /// Whether a connection may make ordinary requests.
    enum Admission: Sendable, Equatable {
        /// Within every limit.
        case admitted
        /// Beyond the total or its peer's budget: only probes (`/healthz`,
        /// `/readyz`, `/metrics`) are answered, others get 503, and it must
        /// send its request quickly.
        case probesOnly(reason: String)
    }

    init(id: UInt64, descriptor: Int32, listener: ListenerKind, peer: HTTPPeer) {
        self.id = id
        self.descriptor = descriptor
        self.listener = listener
        self.peer = peer
    }
}
