import GeniddGeneration
import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A bound, listening socket that genidd owns and hands to libmicrohttpd.
/// Creating sockets here (rather than in libmicrohttpd) lets genidd report
/// the real port for `:0`, set Unix socket permissions, and refuse to steal
/// a Unix socket path that another live daemon serves.
final class ListeningSocket: @unchecked Sendable {
    // Unchecked: immutable after init; closed once by the main thread.
    let descriptor: Int32
    let kind: ListenerKind
    /// `127.0.0.1:43210` or the Unix socket path, for logs.
    let boundDescription: String
    private let unixPath: String?

    static let backlog: Int32 = 1024

    /// Listens on a TCP address.
    init(tcp address: ListenAddress) throws {
        var storage = sockaddr_storage()
        var length: socklen_t
        let family: Int32
        if address.host.contains(":") {
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = address.port.bigEndian
            guard inet_pton(AF_INET6, address.host, &sin6.sin6_addr) == 1 else {
                throw ListenAddressError(text: address.description, problem: "not an IPv6 address")
            }
            withUnsafeBytes(of: sin6) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            family = AF_INET6
        } else {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = address.port.bigEndian
            guard inet_pton(AF_INET, address.host, &sin.sin_addr) == 1 else {
                throw ListenAddressError(
                    text: address.description, problem: "not an IPv4 address (use [addr] for IPv6, or localhost)")
            }
            withUnsafeBytes(of: sin) { source in
                withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: source) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            family = AF_INET
        }
        let fd = try SystemError.check(
            socket(
                family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0),
            "socket", path: address.description)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        if bound != 0 || listen(fd, Self.backlog) != 0 {
            let error = SystemError(bound != 0 ? "bind" : "listen", path: address.description)
            Glibc.close(fd)
            throw error
        }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
        }
        let port =
            family == AF_INET6
            ? withUnsafeBytes(of: actual) { $0.load(as: sockaddr_in6.self).sin6_port.bigEndian }
            : withUnsafeBytes(of: actual) { $0.load(as: sockaddr_in.self).sin_port.bigEndian }
        descriptor = fd
        kind = .tcp
        boundDescription = ListenAddress(host: address.host, port: port).description
        unixPath = nil
    }

    /// Listens on a Unix socket at `path` with `mode`, owned by `group` when given.
    init(unixPath path: String, mode: mode_t, group: gid_t?) throws {
        var address = try Self.unixAddress(path)
        try Self.removeStaleSocket(at: path)
        let fd = try SystemError.check(
            socket(
                AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0),
            "socket", path: path)
        // Bind with a umask that leaves no window where the socket is more open than `mode`.
        let previousMask = umask(0o777 & ~mode)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previousMask)
        do {
            if bound != 0 { throw SystemError("bind", path: path) }
            try SystemError.check(chmod(path, mode), "chmod", path: path)
            if let group {
                try SystemError.check(chown(path, uid_t.max, group), "chown", path: path)
            }
            try SystemError.check(listen(fd, Self.backlog), "listen", path: path)
        } catch {
            Glibc.close(fd)
            if bound == 0 { unlink(path) }
            throw error
        }
        descriptor = fd
        kind = .unix
        boundDescription = path
        unixPath = path
    }

    /// Adopts a listening socket inherited from the service manager (socket
    /// activation). genidd never unlinks an inherited Unix socket's path.
    init(inherited fd: Int32) throws {
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0, accepting == 1 else {
            throw ConfigurationError("inherited descriptor \(fd) (LISTEN_FDS) is not a listening socket")
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var storage = sockaddr_storage()
        var size = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &size) }
        }
        descriptor = fd
        unixPath = nil
        switch Int32(storage.ss_family) {
        case AF_UNIX:
            kind = .unix
            let path = withUnsafeBytes(of: storage) { raw in
                raw.load(as: sockaddr_un.self)
            }
            boundDescription = withUnsafeBytes(of: path.sun_path) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
        case AF_INET, AF_INET6:
            kind = .tcp
            boundDescription = Self.describe(storage)
        default:
            throw ConfigurationError("inherited descriptor \(fd) (LISTEN_FDS) is neither a TCP nor a Unix socket")
        }
    }

    /// `127.0.0.1:8080` or `[::1]:8080` for an IPv4 or IPv6 socket address.
    private static func describe(_ storage: sockaddr_storage) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        if Int32(storage.ss_family) == AF_INET6 {
            var address = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }
            inet_ntop(AF_INET6, &address.sin6_addr, &text, socklen_t(text.count))
            return ListenAddress(host: Self.string(text), port: address.sin6_port.bigEndian).description
        }
        var address = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) }
        inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
        return ListenAddress(host: Self.string(text), port: address.sin_port.bigEndian).description
    }

    private static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Closes the socket and removes a Unix socket's path.
    func close() {
        Glibc.close(descriptor)
        if let unixPath {
            unlink(unixPath)
        }
    }

    /// The `sockaddr_un` for `path`; throws when the path does not fit.
    private static func unixAddress(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError("bind", path: path, code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        return address
    }

    /// Removes a socket file left by a daemon that died; refuses when a daemon
    /// still answers on it or when the path is not a socket.
    private static func removeStaleSocket(at path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw ConfigurationError("--unix \(path): the path exists and is not a socket; refusing to replace it")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { Glibc.close(probe) }
        var address = try unixAddress(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected == 0 {
            throw ConfigurationError("--unix \(path): another process is serving this socket")
        }
        unlink(path)
    }
}
