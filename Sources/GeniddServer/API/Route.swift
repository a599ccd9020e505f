import GeniddGeneration
import GeniddSystem

/// The resources genidd serves. Anything else is a 404.
enum Route: Sendable, Equatable {
    /// `GET /`: the live status page for people (``StatusPage``).
    case statusPage
    /// `GET /v1/status`: what the status page shows, as JSON.
    case status
    case generation
    case bump
    case events
    case watchers
    case watcher(name: String)
    case watcherAcknowledgement(name: String)
    case metrics
    case healthz
    case readyz

    /// One route of each kind, in the order the README lists them.
    static let all: [Route] = [
        .statusPage, .status, .generation, .bump, .events, .watchers, .watcher(name: ""),
        .watcherAcknowledgement(name: ""), .metrics,
        .healthz, .readyz,
    ]

    /// Every route as an OpenAPI path template.
    static var templates: [String] { all.map(\.template) }

    /// Matches a request path (no query), or nil for unknown paths.
    init?(path: String) {
        switch path {
        case "/": self = .statusPage
        case "/v1/status": self = .status
        case "/v1/generation": self = .generation
        case "/v1/generation/bump": self = .bump
        case "/v1/events": self = .events
        case "/v1/watchers": self = .watchers
        case "/metrics": self = .metrics
        case "/healthz": self = .healthz
        case "/readyz": self = .readyz
        default:
            let prefix = "/v1/watchers/"
            guard path.hasPrefix(prefix) else { return nil }
            let rest = path.dropFirst(prefix.count)
            if rest.hasSuffix("/ack") {
                let name = String(rest.dropLast(4))
                guard !name.isEmpty, !name.contains("/") else { return nil }
                self = .watcherAcknowledgement(name: name)
            } else {
                guard !rest.isEmpty, !rest.contains("/") else { return nil }
                self = .watcher(name: String(rest))
            }
        }
    }

    /// The path template, for logs, metrics labels and the OpenAPI check.
    var template: String {
        switch self {
        case .statusPage: return "/"
        case .status: return "/v1/status"
        case .generation: return "/v1/generation"
        case .bump: return "/v1/generation/bump"
        case .events: return "/v1/events"
        case .watchers: return "/v1/watchers"
        case .watcher: return "/v1/watchers/{name}"
        case .watcherAcknowledgement: return "/v1/watchers/{name}/ack"
        case .metrics: return "/metrics"
        case .healthz: return "/healthz"
        case .readyz: return "/readyz"
        }
    }

    /// Methods the route accepts (`Allow` of a 405). Every route that reads
    /// also answers `OPTIONS` (CORS preflights); admin and acknowledgement
    /// routes take `POST` only, so no web page is ever allowed to call them.
    var allowedMethods: [String] {
        switch self {
        case .bump, .watcherAcknowledgement: return ["POST"]
        case .watcher: return ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]
        default: return ["GET", "HEAD", "OPTIONS"]
        }
    }

    /// True for routes a page on a `--cors-origin` may read (with `GET` and `HEAD`).
    var isCrossOriginReadable: Bool {
        allowedMethods.contains("OPTIONS")
    }

    /// The status codes the route answers with, so that metrics can show
    /// each (route, code) series at 0 before it first happens.
    var statuses: [Int] {
        let common =
            [400, 405, 413, 414, 421, 503] + (access == .open ? [] : [401])
            + (isCrossOriginReadable ? [204, 403] : [])
        let specific: [Int]
        switch self {
        case .statusPage, .status: specific = [200]
        case .generation: specific = [200, 304]
        case .bump: specific = [200, 202, 403, 409, 415]
        case .events: specific = [200, 429]
        case .watchers, .metrics, .healthz, .readyz: specific = [200]
        case .watcher: specific = [200, 201, 404, 429]
        case .watcherAcknowledgement: specific = [200, 403, 404, 409, 415]
        }
        return Set(specific + common).sorted()
    }

    /// The label of requests that match no route, and what they are answered with.
    static let unmatchedLabel = "other"
    static let unmatchedStatuses = [400, 404, 414, 421, 503]

    /// Probes answered even on connections beyond their peer's budget.
    var isProbe: Bool {
        self == .healthz || self == .readyz || self == .metrics
    }

    /// Who may call it.
    var access: AccessLevel {
        switch self {
        case .statusPage, .healthz, .readyz: return .open
        case .bump: return .admin
        default: return .read
        }
    }
}

/// How much trust a route needs.
enum AccessLevel: Sendable {
    /// Anyone who can reach the socket (health checks).
    case open
    /// Everyone, unless `--read-token-file` asks for a token.
    case read
    /// Unix-socket peers in `--admin-uid`/`--admin-gid`, or the admin bearer token.
    case admin
}
