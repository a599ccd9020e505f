/// A flag, file or socket path that genidd cannot use. The message names the
/// flag or path at fault and says what is expected.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
