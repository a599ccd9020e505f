import GeniddGeneration
import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Which `Host` headers genidd answers on TCP: IP literals (v4 and v6, which
/// no browser page can rebind), `localhost` and names under `.localhost`,
/// and the names given with `--allowed-host`. A web page on another origin
/// can otherwise reach a loopback daemon through DNS rebinding: its own name,
/// resolved to 127.0.0.1, arrives as the `Host`.
struct HostCheck: Sendable, Equatable {
    /// Extra names allowed (lowercase, without port or trailing dot).
    var allowedNames: Set<String>

    init(allowedNames: Set<String> = []) {
        self.allowedNames = Set(allowedNames.map(Self.normalize))
    }

    /// True when a request carrying `header` (the `Host` value) may be answered.
    func allows(_ header: String) -> Bool {
        guard let host = Self.hostName(header) else { return false }
        if host.hasPrefix("[") {
            var address = in6_addr()
            return inet_pton(AF_INET6, String(host.dropFirst().dropLast()), &address) == 1
        }
        var address = in_addr()
        if inet_pton(AF_INET, host, &address) == 1 {
            return true
        }
        let name = Self.normalize(host)
        return name == "localhost" || name.hasSuffix(".localhost") || allowedNames.contains(name)
    }

    /// The host part of a `Host` value (`[v6]` kept bracketed), or nil when malformed.
    static func hostName(_ header: String) -> String? {
        var host = Substring(header.trimmingWhitespace())
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isASCIIDigit)) else {
                return nil
            }
            return String(host[...close])
        }
        if let colon = host.lastIndex(of: ":") {
            guard host[host.index(after: colon)...].allSatisfy(\.isASCIIDigit) else { return nil }
            host = host[..<colon]
        }
        guard !host.isEmpty, !host.contains(":") else { return nil }
        return String(host)
    }

    private static func normalize(_ name: String) -> String {
        var lower = name.lowercased()
        if lower.hasSuffix(".") {
            lower.removeLast()
        }
        return lower
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
