import GeniddGeneration
import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Who is at the other end of a connection, as the kernel tells it: the
/// process credentials on a Unix socket (`SO_PEERCRED`, which cannot be
/// forged), the address on TCP. Connection and watcher caps count per peer.
enum HTTPPeer: Sendable, Hashable, CustomStringConvertible {
    /// A Unix socket peer.
    case user(uid: UInt32, gid: UInt32)
    /// A TCP peer's address (IPv4-mapped IPv6 addresses as IPv4).
    case address(String)
    /// Credentials or address were not available.
    case unknown

    /// What caps count by: the uid on Unix sockets (not the gid), the address on TCP.
    var key: String {
        switch self {
        case .user(let uid, _): return "uid \(uid)"
        case .address(let address): return address
        case .unknown: return "unknown peer"
        }
    }

    var description: String { key }

    /// The peer of a TCP socket address.
    static func address(of storage: UnsafePointer<sockaddr>?) -> HTTPPeer {
        guard let storage else { return .unknown }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(storage.pointee.sa_family) {
        case AF_INET:
            var address = storage.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            guard inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil else { return .unknown }
        case AF_INET6:
            var address = storage.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
            guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return .unknown }
        default:
            return .unknown
        }
        var string = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if string.hasPrefix("::ffff:") && string.contains(".") {
            string.removeFirst(7)
        }
        return .address(string)
    }
}
