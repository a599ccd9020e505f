import GeniddGeneration
import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Everything `genidd serve` needs. Options are parsed and checked by
/// `DaemonConfiguration+Options.swift`; the command line only passes text.
public struct DaemonConfiguration: Sendable {
    var source: SourceSpec = .auto
    var listen: [ListenAddress] = [ListenAddress(host: "127.0.0.1", port: 8080)]
    /// The Unix socket (nil until `finish()` puts it in the state directory, unless disabled).
    var unixSocket: String?
    /// `--no-unix` was given.
    var unixDisabled = false
    var unixSocketMode: mode_t = 0o660
    var unixSocketGroup: gid_t?
    var stateDirectory = "/run/genidd"
    var heartbeat = Duration.seconds(15)
    var uuidFile: String?
    var hashKeyFile: String?
    var maxConnections = 10_000
    /// Connections one peer (a uid on the Unix socket, an address on TCP) may
    /// hold for ordinary requests; nil: half of `maxConnections`.
    var maxConnectionsPerPeer: Int?
    /// How long a connection may take to send a request's headers.
    var requestHeaderTimeout = Duration.seconds(5)
    /// Host names TCP requests may carry besides IP literals and localhost.
    var allowedHosts: [String] = []
    /// Origins whose pages may read genidd (`--cors-origin`, `*` for any).
    var corsOrigins: [String] = []
    public var logLevel = Logger.Level.info
    public var logFormat = LineLogHandler.Format.text
    /// genidd's version, for `genidd_build_info`.
    public var version = "unknown"
    /// Who may call admin routes and, optionally, read. Its tokens come from
    /// the token files below, read at start and again on SIGHUP.
    var accessPolicy = AccessPolicy()
    /// `--admin-token-file`.
    var adminTokenFile: String?
    /// `--read-token-file`.
    var readTokenFile: String?
    /// Watchers one peer may create (a uid on the Unix socket, an address on TCP).
    var maxWatchersPerOwner = 100
    /// How long a watcher may be absent (no stream, no request) before it expires.
    var watcherExpiry = Duration.seconds(300)
    /// When genidd acknowledges a generation to a sysgenid device.
    var acknowledgementPolicy = AcknowledgementPolicy.delivered
    /// Files kept in the /dev/sysgenid (u32 at offset 0) layout.
    var exportSysgenid: [String] = []
    /// Files kept in the /dev/vmgenid layout (the same 4 bytes a read() returns).
    var exportVmgenid: [String] = []
    /// libmicrohttpd worker threads per listener (default: one per core).
    var threads = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    /// Where `auto` looks for devices and drivers (tests point these elsewhere).
    var probe = SourceProbe()

    public init() {}
}
