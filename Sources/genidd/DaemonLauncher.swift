import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// `genidd serve` runs the `genidd-daemon` executable installed next to
/// `genidd`, in this same process (`execv`). The daemon thus never maps the
/// client's libraries (libcurl), and processes that only watch never map the
/// server's (libmicrohttpd, GnuTLS, Prometheus).
enum DaemonLauncher {
    /// The daemon's file name.
    static let executable = "genidd-daemon"

    /// Replaces this process with the daemon, handing it `arguments`; returns
    /// only by exiting, when the daemon cannot be started.
    static func run(_ arguments: [String]) -> Never {
        let path = daemonPath()
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
        argv.append(nil)
        execv(path, &argv)
        Console.error("genidd serve: cannot run \(path): \(String(cString: strerror(errno)))")
        exit(errno == ENOENT ? 127 : 126)
    }

    /// `genidd-daemon` in the directory of this executable (symlinks resolved).
    static func daemonPath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return executable }
        let own = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = own.lastIndex(of: "/") else { return executable }
        return String(own[...slash]) + executable
    }
}
