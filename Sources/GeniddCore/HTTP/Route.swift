/// The paths genidd serves. Anything else is a 404.
public enum Route: String, CaseIterable, Sendable {
    case generation = "/v1/generation"
    case events = "/v1/events"
    case healthz = "/healthz"
    case readyz = "/readyz"

    /// Methods each route accepts (`Allow` of a 405).
    public var allowedMethods: [String] { ["GET", "HEAD"] }
}
