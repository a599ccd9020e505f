/// genidd's two health endpoints, as `genidd probe` checks them.
public enum HealthProbe: String, CaseIterable, Sendable {
    /// `GET /healthz`: 200 while the daemon runs and answers HTTP.
    case live
    /// `GET /readyz`: 200 only while the generation source is healthy (503
    /// while it fails, with the reason, and while genidd shuts down).
    case ready

    /// The endpoint's path.
    public var path: String {
        switch self {
        case .live: return "/healthz"
        case .ready: return "/readyz"
        }
    }
}
