import ArgumentParser
import GeniddGeneration
import GeniddServer
import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `genidd serve`: runs the daemon.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
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
    var maxConnections: Int?

    @Option(
        help:
            "Open connections one peer (a uid on the Unix socket, an address on TCP) may hold (default: half of --max-connections). (GENIDD_MAX_CONNECTIONS_PER_PEER)"
    )
    var maxConnectionsPerPeer: Int?

    @Option(
        help: "How long a connection may take to send a request's headers: 5s, 500ms. (GENIDD_REQUEST_HEADER_TIMEOUT)")
    var requestHeaderTimeout: String?

    @Option(
        help:
            "Host name TCP requests may carry besides IP addresses and localhost; repeatable. (GENIDD_ALLOWED_HOST)")
    var allowedHost: [String] = []

    @Option(help: "HTTP worker threads per listener (default: one per CPU). (GENIDD_THREADS)")
    var threads: Int?

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

    @Option(
        help:
            "Watchers one peer (a uid on the Unix socket, an address on TCP) may create. (GENIDD_MAX_WATCHERS_PER_OWNER)"
    )
    var maxWatchersPerOwner: Int?

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
        let environment = Environment()
        let level = try resolveLogLevel(environment)
        let format = try resolveLogFormat(environment)
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: format, level: level) }
        let logger = Logger(label: "genidd")
        let configuration = try makeConfiguration(environment)
        do {
            try Daemon(configuration: configuration, logger: logger).run()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
    }

    func makeConfiguration(_ environment: Environment) throws -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        configuration.version = GeniddCommand.version
        if let text = source ?? environment["SOURCE"] {
            do {
                configuration.source = try SourceSpec(parsing: text)
            } catch {
                throw ValidationError("--source: \(error)")
            }
        }
        if let directory = stateDir ?? environment["STATE_DIR"] {
            guard !directory.isEmpty else { throw ValidationError("--state-dir must not be empty") }
            configuration.stateDirectory = directory
        }
        let addresses = listen.isEmpty ? (environment["LISTEN"]?.split(separator: ",").map(String.init) ?? []) : listen
        if !addresses.isEmpty {
            configuration.listen = try addresses.map { text in
                do { return try ListenAddress(parsing: text) } catch { throw ValidationError("\(error)") }
            }
        }
        if noTcp || environment.flag("NO_TCP") {
            configuration.listen = []
        }
        if noUnix || environment.flag("NO_UNIX") {
            configuration.unixSocket = nil
        } else {
            configuration.unixSocket = unix ?? environment["UNIX"] ?? configuration.stateDirectory + "/genidd.sock"
        }
        if configuration.listen.isEmpty && configuration.unixSocket == nil {
            throw ValidationError("--no-tcp and --no-unix together leave nothing to listen on")
        }
        if let text = unixMode ?? environment["UNIX_MODE"] {
            guard let mode = UInt32(text, radix: 8), mode <= 0o777 else {
                throw ValidationError("--unix-mode must be octal permissions such as 0660, got '\(text)'")
            }
            configuration.unixSocketMode = mode
        }
        if let text = unixGroup ?? environment["UNIX_GROUP"] {
            configuration.unixSocketGroup = try Self.groupID(text)
        }
        if let text = heartbeat ?? environment["HEARTBEAT"] {
            guard let milliseconds = DurationArgument.milliseconds(text) else {
                throw ValidationError("--heartbeat must be a duration such as 15, 15s or 500ms, got '\(text)'")
            }
            configuration.heartbeatMilliseconds = milliseconds
        }
        configuration.uuidFile = uuidFile ?? environment["UUID_FILE"]
        configuration.hashKeyFile = hashKeyFile ?? environment["HASH_KEY_FILE"]
        if let value = try maxConnections ?? environment.integer("MAX_CONNECTIONS", flag: "--max-connections") {
            guard (1...1_000_000).contains(value) else {
                throw ValidationError("--max-connections must be between 1 and 1000000, got \(value)")
            }
            configuration.maxConnections = value
        }
        if let value = try maxConnectionsPerPeer
            ?? environment.integer("MAX_CONNECTIONS_PER_PEER", flag: "--max-connections-per-peer")
        {
            guard (1...configuration.maxConnections).contains(value) else {
                throw ValidationError(
                    "--max-connections-per-peer must be between 1 and --max-connections (\(configuration.maxConnections)), got \(value)"
                )
            }
            configuration.maxConnectionsPerPeer = value
        }
        if let text = requestHeaderTimeout ?? environment["REQUEST_HEADER_TIMEOUT"] {
            guard let milliseconds = DurationArgument.milliseconds(text), (100...300_000).contains(milliseconds) else {
                throw ValidationError(
                    "--request-header-timeout must be a duration from 100ms to 300s, such as 5s, got '\(text)'")
            }
            configuration.requestHeaderTimeout = .milliseconds(milliseconds)
        }
        configuration.allowedHosts = allowedHost.isEmpty ? environment.list("ALLOWED_HOST") : allowedHost
        for host in configuration.allowedHosts
        where host.isEmpty || host.contains(where: { $0 == ":" || $0 == "/" || $0 == " " }) {
            throw ValidationError("--allowed-host takes a host name without port, got '\(host)'")
        }
        if let value = try threads ?? environment.integer("THREADS", flag: "--threads") {
            guard (1...256).contains(value) else {
                throw ValidationError("--threads must be between 1 and 256, got \(value)")
            }
            configuration.threads = value
        }
        configuration.exportSysgenid = exportSysgenid.isEmpty ? environment.list("EXPORT_SYSGENID") : exportSysgenid
        configuration.exportVmgenid = exportVmgenid.isEmpty ? environment.list("EXPORT_VMGENID") : exportVmgenid
        let uids = adminUid.isEmpty ? environment.list("ADMIN_UID") : adminUid
        configuration.accessPolicy.adminUIDs = Set(try uids.map(Self.userID))
        let gids = adminGid.isEmpty ? environment.list("ADMIN_GID") : adminGid
        configuration.accessPolicy.adminGIDs = Set(try gids.map(Self.groupID))
        // Read (and checked) by the daemon at start and again on SIGHUP.
        configuration.adminTokenFile = adminTokenFile ?? environment["ADMIN_TOKEN_FILE"]
        configuration.readTokenFile = readTokenFile ?? environment["READ_TOKEN_FILE"]
        if let value = try maxWatchersPerOwner
            ?? environment.integer("MAX_WATCHERS_PER_OWNER", flag: "--max-watchers-per-owner")
        {
            guard (1...10_000).contains(value) else {
                throw ValidationError("--max-watchers-per-owner must be between 1 and 10000, got \(value)")
            }
            configuration.maxWatchersPerOwner = value
        }
        if let text = watcherExpiry ?? environment["WATCHER_EXPIRY"] {
            guard let milliseconds = DurationArgument.milliseconds(text), milliseconds >= 1000 else {
                throw ValidationError(
                    "--watcher-expiry must be a duration of at least 1s, such as 300s or 10m, got '\(text)'")
            }
            configuration.watcherExpiryMilliseconds = milliseconds
        }
        if let text = ackPolicy ?? environment["ACK_POLICY"] {
            guard let policy = AcknowledgementPolicy(rawValue: text) else {
                throw ValidationError("--ack-policy must be delivered or watchers, got '\(text)'")
            }
            configuration.acknowledgementPolicy = policy
        }
        if let root = probeRoot ?? environment["PROBE_ROOT"] {
            configuration.probe.deviceRoot = root + "/dev"
            configuration.probe.sysfsRoot = root + "/sys"
        }
        if let text = checkInterval ?? environment["CHECK_INTERVAL"] {
            guard let milliseconds = DurationArgument.milliseconds(text), milliseconds <= 60_000 else {
                throw ValidationError(
                    "--check-interval must be a duration from 1ms to 60s, such as 100ms, got '\(text)'")
            }
            configuration.probe.checkIntervalMilliseconds = milliseconds
        }
        return configuration
    }

    private func resolveLogLevel(_ environment: Environment) throws -> Logger.Level {
        guard let text = logLevel ?? environment["LOG_LEVEL"] else { return .info }
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--log-level must be one of \(names), got '\(text)'")
        }
        return level
    }

    private func resolveLogFormat(_ environment: Environment) throws -> LineLogHandler.Format {
        guard let text = logFormat ?? environment["LOG_FORMAT"] else { return .text }
        guard let format = LineLogHandler.Format(rawValue: text.lowercased()) else {
            throw ValidationError("--log-format must be text or json, got '\(text)'")
        }
        return format
    }

    private static func groupID(_ text: String) throws -> gid_t {
        if let number = gid_t(text) {
            return number
        }
        guard let entry = getgrnam(text) else {
            throw ValidationError("--unix-group/--admin-gid: no group named '\(text)'")
        }
        return entry.pointee.gr_gid
    }

    private static func userID(_ text: String) throws -> uid_t {
        if let number = uid_t(text) {
            return number
        }
        guard let entry = getpwnam(text) else {
            throw ValidationError("--admin-uid: no user named '\(text)'")
        }
        return entry.pointee.pw_uid
    }
}
