import ArgumentParser
import GeniddGeneration
import GeniddServer
import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `genidd serve` (the `genidd-daemon` executable): runs the daemon. The
/// options are declared here for parsing and help; what each means, its
/// environment variable and how its value is checked live in
/// `DaemonConfiguration.Option`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genidd serve",
        abstract: "Watch the VM generation counter and serve it over HTTP.",
        discussion: """
            Every option can also be set with an environment variable named GENIDD_ and \
            the option in capitals (GENIDD_SOURCE, GENIDD_LISTEN=addr1,addr2, ...). The \
            command line wins over the environment.

            Stops cleanly on SIGTERM or SIGINT: SSE streams end, waiting long-polls are \
            answered, and the process exits 0.
            """
    )

    @Option(
        help: """
            Where the generation comes from: auto, vmclock[:PATH], sysgenid[:PATH], vmgenid[:PATH], kmsg, \
            uevent or file:PATH. (GENIDD_SOURCE)
            """)
    var source: String?

    @Option(
        help: "How often sources without notification re-read their mapped counter: 100ms, 1s. (GENIDD_CHECK_INTERVAL)")
    var checkInterval: String?

    @Option(help: "TCP address to listen on, HOST:PORT (repeatable; port 0 picks a free one). (GENIDD_LISTEN)")
    var listen: [String] = []

    @Flag(help: "Do not listen on TCP at all (Unix socket only). (GENIDD_NO_TCP=1)")
    var noTcp = false

    @Option(help: "Unix socket path (default: STATE_DIR/genidd.sock). (GENIDD_UNIX)")
    var unix: String?

    @Flag(help: "Do not listen on a Unix socket. (GENIDD_NO_UNIX=1)")
    var noUnix = false

    @Option(help: "Permissions of the Unix socket, octal. (GENIDD_UNIX_MODE)")
    var unixMode: String?

    @Option(help: "Group owning the Unix socket, name or number. (GENIDD_UNIX_GROUP)")
    var unixGroup: String?

    @Option(help: "State directory: saved seq, lock, default socket. (GENIDD_STATE_DIR)")
    var stateDir: String?

    @Option(help: "Interval of SSE keepalive comments: 15, 15s or 500ms. (GENIDD_HEARTBEAT)")
    var heartbeat: String?

    @Option(
        help:
            "File holding the VM generation UUID (text or 16 raw bytes); only its keyed hash is served. (GENIDD_UUID_FILE)"
    )
    var uuidFile: String?

    @Option(help: "Key for the uuid_hash HMAC: the file's exact bytes. (GENIDD_HASH_KEY_FILE)")
    var hashKeyFile: String?

    @Option(help: "Open connections beyond which requests get 503. (GENIDD_MAX_CONNECTIONS)")
    var maxConnections: String?

    @Option(
        help:
            "Open connections one peer (a uid on the Unix socket, an address on TCP) may hold (default: half of --max-connections). (GENIDD_MAX_CONNECTIONS_PER_PEER)"
    )
    var maxConnectionsPerPeer: String?

    @Option(
        help: "How long a connection may take to send a request's headers: 5s, 500ms. (GENIDD_REQUEST_HEADER_TIMEOUT)")
    var requestHeaderTimeout: String?

    @Option(
        help:
            "Host name TCP requests may carry besides IP addresses and localhost; repeatable. (GENIDD_ALLOWED_HOST)")
    var allowedHost: [String] = []

    @Option(help: "HTTP worker threads per listener (default: one per CPU). (GENIDD_THREADS)")
    var threads: String?

    @Option(
        help:
            "Keep a file in the /dev/sysgenid layout (u32 at offset 0 = low 32 bits of seq); repeatable. (GENIDD_EXPORT_SYSGENID)"
    )
    var exportSysgenid: [String] = []

    @Option(help: "Keep a file in the /dev/vmgenid layout; repeatable. (GENIDD_EXPORT_VMGENID)")
    var exportVmgenid: [String] = []

    @Option(help: "Unix-socket peer uid (number or user name) allowed admin calls; repeatable. (GENIDD_ADMIN_UID)")
    var adminUid: [String] = []

    @Option(help: "Unix-socket peer gid (number or group name) allowed admin calls; repeatable. (GENIDD_ADMIN_GID)")
    var adminGid: [String] = []

    @Option(help: "File holding the bearer token for admin calls. (GENIDD_ADMIN_TOKEN_FILE)")
    var adminTokenFile: String?

    @Option(
        help: "File holding a bearer token that reads must present (default: reads are open). (GENIDD_READ_TOKEN_FILE)")
    var readTokenFile: String?

    @Flag(
        help: """
            Also accept the read token as the access_token query argument of GET and HEAD requests, for \
            browsers' EventSource (which cannot send headers). Tokens in URLs end up in proxy logs and \
            browser history. (GENIDD_READ_TOKEN_QUERY=1)
            """)
    var readTokenQuery = false

    @Option(
        help: """
            Origin (scheme://host[:port]) whose web pages may read genidd (GET, HEAD and their CORS \
            preflights); repeatable; '*' allows every origin. (GENIDD_CORS_ORIGIN)
            """)
    var corsOrigin: [String] = []

    @Option(
        help:
            "Watchers one peer (a uid on the Unix socket, an address on TCP) may create. (GENIDD_MAX_WATCHERS_PER_OWNER)"
    )
    var maxWatchersPerOwner: String?

    @Option(help: "How long an absent watcher is kept before it expires: 300s, 10m. (GENIDD_WATCHER_EXPIRY)")
    var watcherExpiry: String?

    @Option(help: "When to acknowledge a sysgenid device: delivered or watchers. (GENIDD_ACK_POLICY)")
    var ackPolicy: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical. (GENIDD_LOG_LEVEL)")
    var logLevel: String?

    @Option(help: "text or json. (GENIDD_LOG_FORMAT)")
    var logFormat: String?

    @Option(help: .hidden)
    var probeRoot: String?

    func run() throws {
        var configuration = DaemonConfiguration()
        configuration.version = GeniddVersion.current
        do {
            for (option, values) in given {
                let effective = values.isEmpty ? DaemonConfiguration.environmentValues(for: option) : values
                try configuration.apply(option, effective)
            }
            try configuration.finish()
        } catch {
            throw ValidationError("\(error)")
        }
        let level = configuration.logLevel
        let format = configuration.logFormat
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: format, level: level) }
        let logger = Logger(label: "genidd")
        do {
            try Daemon(configuration: configuration, logger: logger).run()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
    }

    /// What the command line gave for each option, in the order they are applied.
    private var given: [(DaemonConfiguration.Option, [String])] {
        DaemonConfiguration.Option.allCases.map { option in
            (option, values(for: option))
        }
    }

    private func values(for option: DaemonConfiguration.Option) -> [String] {
        func one(_ value: String?) -> [String] { value.map { [$0] } ?? [] }
        switch option {
        case .source: return one(source)
        case .checkInterval: return one(checkInterval)
        case .listen: return listen
        case .noTCP: return noTcp ? ["1"] : []
        case .unix: return one(unix)
        case .noUnix: return noUnix ? ["1"] : []
        case .unixMode: return one(unixMode)
        case .unixGroup: return one(unixGroup)
        case .stateDir: return one(stateDir)
        case .heartbeat: return one(heartbeat)
        case .uuidFile: return one(uuidFile)
        case .hashKeyFile: return one(hashKeyFile)
        case .maxConnections: return one(maxConnections)
        case .maxConnectionsPerPeer: return one(maxConnectionsPerPeer)
        case .requestHeaderTimeout: return one(requestHeaderTimeout)
        case .allowedHost: return allowedHost
        case .threads: return one(threads)
        case .exportSysgenid: return exportSysgenid
        case .exportVmgenid: return exportVmgenid
        case .adminUID: return adminUid
        case .adminGID: return adminGid
        case .adminTokenFile: return one(adminTokenFile)
        case .readTokenFile: return one(readTokenFile)
        case .readTokenQuery: return readTokenQuery ? ["1"] : []
        case .corsOrigin: return corsOrigin
        case .maxWatchersPerOwner: return one(maxWatchersPerOwner)
        case .watcherExpiry: return one(watcherExpiry)
        case .ackPolicy: return one(ackPolicy)
        case .logLevel: return one(logLevel)
        case .logFormat: return one(logFormat)
        case .probeRoot: return one(probeRoot)
        }
    }
}
