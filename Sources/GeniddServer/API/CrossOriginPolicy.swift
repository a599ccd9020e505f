import GeniddGeneration
import GeniddSystem

/// Which web pages on other origins may read genidd (`--cors-origin`), and
/// the CORS headers that tell their browsers so.
///
/// Only reads cross origins: `GET` and `HEAD` (and their `OPTIONS`
/// preflights) of the routes that allow them. genidd never answers
/// `Access-Control-Allow-Credentials`: it uses no cookies, and its tokens are
/// explicit (`Authorization`, or `access_token` with `--read-token-query`),
/// so a page can only use a token someone gave it. That is also why `*`
/// may be configured: any page may then read what a client without a token
/// can (and, with `--read-token-file`, nothing without the token).
struct CrossOriginPolicy: Sendable, Equatable {
    /// Allowed origins, normalized (``normalize(_:)``).
    private(set) var origins: Set<String>
    /// `--cors-origin '*'`: every origin.
    private(set) var anyOrigin: Bool

    init(origins: [String] = []) {
        anyOrigin = origins.contains("*")
        self.origins = Set(origins.filter { $0 != "*" }.compactMap(Self.normalize))
    }

    /// True when no origin is configured: genidd adds no CORS header at all.
    var isEmpty: Bool { origins.isEmpty && !anyOrigin }

    /// Request headers a cross-origin page may send (`If-None-Match` for
    /// conditional GETs, `Last-Event-ID` for resuming streams, `Authorization`
    /// for the read token, `Cache-Control` which EventSource polyfills add).
    static let allowedRequestHeaders = ["If-None-Match", "Last-Event-ID", "Authorization", "Cache-Control"]
    /// How long browsers may cache a preflight's answer.
    static let preflightMaxAgeSeconds = 600

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, or
    /// nil when that origin is not allowed (or there is none).
    func allowOriginValue(for origin: String?) -> String? {
        guard let origin, !isEmpty else { return nil }
        if anyOrigin {
            return "*"
        }
        guard let normalized = Self.normalize(origin), origins.contains(normalized) else { return nil }
        return origin
    }

    /// An origin as browsers serialize it: lowercase `http` or `https`
    /// scheme and host, the port only when it is not the scheme's default, no
    /// path. Nil for anything else (paths, `null`, other schemes, user info).
    static func normalize(_ text: String) -> String? {
        let lower = text.lowercased()
        let scheme: String
        let defaultPort: String
        if lower.hasPrefix("http://") {
            (scheme, defaultPort) = ("http", "80")
        } else if lower.hasPrefix("https://") {
            (scheme, defaultPort) = ("https", "443")
        } else {
            return nil
        }
        let authority = lower.dropFirst(scheme.count + 3)
        let forbidden = "/?#@\\".unicodeScalars
        guard !authority.isEmpty,
            !authority.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7f || forbidden.contains($0) }
            )
        else { return nil }
        guard let host = HostCheck.hostName(String(authority)) else { return nil }
        var port = ""
        if authority.count > host.count {
            port = String(authority.dropFirst(host.count + 1))
            guard !port.isEmpty, let number = Int(port), (1...65535).contains(number) else { return nil }
        }
        return scheme + "://" + host + (port.isEmpty || port == defaultPort ? "" : ":" + port)
    }
}
