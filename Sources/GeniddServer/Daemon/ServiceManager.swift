import GeniddGeneration
import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The systemd protocols genidd speaks, without linking libsystemd: socket
/// activation (`LISTEN_PID`, `LISTEN_FDS`, descriptors from 3) and readiness
/// notification (a datagram to `NOTIFY_SOCKET`).
enum ServiceManager {
    /// Listening sockets passed by the service manager, in the order of the
    /// socket unit, or an empty list when genidd was not socket-activated.
    /// Clears the variables so that child processes do not inherit them.
    static func inheritedListeners() throws -> [ListeningSocket] {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pidText = getenv("LISTEN_PID").map({ String(cString: $0) }),
            let countText = getenv("LISTEN_FDS").map({ String(cString: $0) })
        else { return [] }
        guard Int32(pidText) == getpid() else { return [] }
        guard let count = Int32(countText), count > 0, count < 64 else {
            throw ConfigurationError("LISTEN_FDS='\(countText)' is not a number of descriptors")
        }
        return try (0..<count).map { try ListeningSocket(inherited: 3 + $0) }
    }

    /// Sends `state` (for example `READY=1`) to the service manager when it
    /// asked for notifications; does nothing otherwise.
    static func notify(_ state: String) {
        guard let socketPath = getenv("NOTIFY_SOCKET").map({ String(cString: $0) }), !socketPath.isEmpty else {
            return
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        if pathBytes.first == UInt8(ascii: "@") {
            pathBytes[0] = 0  // an abstract socket
        }
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + pathBytes.count)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var message = Array(state.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                message.withUnsafeMutableBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
            }
        }
    }
}
