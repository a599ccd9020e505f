import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Where genidd listens: a base URL (`--url http://HOST:PORT`) or a Unix
/// socket (`--unix PATH`, requests then go to `http://localhost` over it).
public struct DaemonAddress: Sendable, Equatable, CustomStringConvertible {
    public enum Transport: Sendable, Equatable {
        /// Base URL without a trailing slash, such as `http://127.0.0.1:8080`.
        case url(String)
        case unixSocket(String)
    }

    public let transport: Transport
    /// The path part of a `--url`, without trailing slashes: empty unless
    /// genidd is served under a prefix (always empty for a Unix socket).
    public let basePath: String

    /// The daemon's default TCP listener.
    public static let defaultURL = "http://127.0.0.1:8080"

    /// Checks a `--url`: http or https, a host, an optional port and base
    /// path (for a proxy that serves genidd under a prefix), nothing else.
    public init(url text: String) throws {
        let parts: CurlURLParser.Parts
        switch CurlURLParser.parse(text) {
        case .success(let parsed): parts = parsed
        case .failure(let error):
            throw ConfigurationError("--url must look like http://HOST:PORT, got '\(text)' (\(error))")
        }
        guard parts.scheme == "http" || parts.scheme == "https" else {
            throw ConfigurationError("--url must be an http:// or https:// URL, got '\(text)'")
        }
        guard !parts.host.isEmpty else {
            throw ConfigurationError("--url needs a host, got '\(text)'")
        }
        guard !parts.hasQuery, !parts.hasFragment, !parts.hasCredentials else {
            throw ConfigurationError(
                "--url takes a base URL without query, fragment or credentials (use --token-file), got '\(text)'")
        }
        var path = parts.path
        while path.hasSuffix("/") {
            path.removeLast()
        }
        basePath = path
        transport = .url("\(parts.scheme)://\(parts.host)" + (parts.port.map { ":" + $0 } ?? "") + path)
    }

    /// Checks a `--unix` path (it need not exist yet: `watch` waits for it).
    public init(unixSocket path: String) throws {
        guard !path.isEmpty else { throw ConfigurationError("--unix needs a socket path") }
        // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
        guard path.utf8.count < 108 else {
            throw ConfigurationError("--unix: a socket path must be shorter than 108 bytes, got \(path.utf8.count)")
        }
        transport = .unixSocket(path)
        basePath = ""
    }

    /// The full URL of `path` (which starts with `/`).
    func url(for path: String) -> String {
        switch transport {
        case .url(let base): return base + path
        case .unixSocket: return "http://localhost" + path
        }
    }

    var unixSocketPath: String? {
        if case .unixSocket(let path) = transport { return path }
        return nil
    }

    /// `http://127.0.0.1:8080`, or `the Unix socket /run/genidd/genidd.sock`.
    public var description: String {
        switch transport {
        case .url(let base): return base
        case .unixSocket(let path): return "the Unix socket \(path)"
        }
    }
}
