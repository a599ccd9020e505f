#if canImport(Glibc)
    import Glibc
#endif

/// Everything `genidd serve` needs, already validated by the CLI.
public struct DaemonConfiguration: Sendable {
    public var source: SourceSpec = .auto
    public var listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 8080)]
    public var unixSocket: String?
    public var unixSocketMode: mode_t = 0o660
    public var unixSocketGroup: gid_t?
    public var stateDirectory = "/run/genidd"
    public var heartbeatMilliseconds = 15_000
    public var uuidFile: String?
    public var hashKeyFile: String?
    public var maxConnections = 10_000
    /// libmicrohttpd worker threads per listener (default: one per core).
    public var threads = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    /// Where `auto` looks for devices and drivers (tests point these elsewhere).
    public var probe = SourceProbe()

    public init() {}
}
