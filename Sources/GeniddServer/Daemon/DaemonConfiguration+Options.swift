import GeniddGeneration
import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `genidd serve`'s options, declared once: each one's flag (`--NAME`) and
/// environment variable (`GENIDD_NAME`) come from its case, and the
/// configuration parses its values here (durations, modes, ranges, names),
/// so that the command line only has to say which option got which text.
extension DaemonConfiguration {
    public enum Option: String, CaseIterable, Sendable {
        case source
        case checkInterval = "check-interval"
        case listen
        case noTCP = "no-tcp"
        case unix
        case noUnix = "no-unix"
        case unixMode = "unix-mode"
        case unixGroup = "unix-group"
        case stateDir = "state-dir"
        case heartbeat
        case uuidFile = "uuid-file"
        case hashKeyFile = "hash-key-file"
        case maxConnections = "max-connections"
        case maxConnectionsPerPeer = "max-connections-per-peer"
        case requestHeaderTimeout = "request-header-timeout"
        case allowedHost = "allowed-host"
        case threads
        case exportSysgenid = "export-sysgenid"
        case exportVmgenid = "export-vmgenid"
        case adminUID = "admin-uid"
        case adminGID = "admin-gid"
        case adminTokenFile = "admin-token-file"
        case readTokenFile = "read-token-file"
        case readTokenQuery = "read-token-query"
        case corsOrigin = "cors-origin"
        case maxWatchersPerOwner = "max-watchers-per-owner"
        case watcherExpiry = "watcher-expiry"
        case ackPolicy = "ack-policy"
        case logLevel = "log-level"
        case logFormat = "log-format"
        case probeRoot = "probe-root"

        /// `--check-interval`.
        public var flag: String { "--" + rawValue }

        /// `GENIDD_CHECK_INTERVAL`.
        public var environmentVariable: String {
            "GENIDD_" + String(rawValue.uppercased().map { $0 == "-" ? "_" : $0 })
        }

        /// Options given several times (in the environment: comma-separated).
        public var isRepeatable: Bool {
            [.listen, .allowedHost, .corsOrigin, .exportSysgenid, .exportVmgenid, .adminUID, .adminGID].contains(self)
        }

        /// Options without a value (in the environment: `1`, `true` or `yes`).
        public var isFlag: Bool { self == .noTCP || self == .noUnix || self == .readTokenQuery }

        /// Options left out of `--help` (test hooks).
        public var isHidden: Bool { self == .probeRoot }

        /// What `--help` says of the value.
        public var valueName: String {
            switch self {
            case .source: return "SOURCE"
            case .listen: return "HOST:PORT"
            case .unix, .stateDir, .uuidFile, .hashKeyFile, .exportSysgenid, .exportVmgenid, .adminTokenFile,
                .readTokenFile, .probeRoot:
                return "PATH"
            case .checkInterval, .heartbeat, .requestHeaderTimeout, .watcherExpiry: return "DURATION"
            case .unixMode: return "OCTAL"
            case .unixGroup, .adminGID: return "GROUP"
            case .adminUID: return "USER"
            case .allowedHost: return "NAME"
            case .corsOrigin: return "ORIGIN"
            case .maxConnections, .maxConnectionsPerPeer, .threads, .maxWatchersPerOwner: return "N"
            case .ackPolicy: return "delivered|watchers"
            case .logLevel: return "LEVEL"
            case .logFormat: return "text|json"
            case .noTCP, .noUnix, .readTokenQuery: return ""
            }
        }

        /// What `--help` says of the option.
        public var help: String {
            switch self {
            case .source:
                return "where the generation comes from: auto (default), vmclock[:PATH], sysgenid[:PATH], "
                    + "vmgenid[:PATH], kmsg, uevent or file:PATH"
            case .checkInterval: return "how often sources without notification re-read their counter (100ms)"
            case .listen: return "TCP address to listen on (127.0.0.1:8080); repeatable; port 0 picks a free one"
            case .noTCP: return "do not listen on TCP (Unix socket only)"
            case .unix: return "Unix socket path (STATE_DIR/genidd.sock)"
            case .noUnix: return "do not listen on a Unix socket"
            case .unixMode: return "permissions of the Unix socket (0660)"
            case .unixGroup: return "group owning the Unix socket, name or number"
            case .stateDir: return "state directory: saved seq, watchers, lock, default socket (/run/genidd)"
            case .heartbeat: return "interval of SSE keepalive comments: 15, 15s or 500ms (15s)"
            case .uuidFile: return "the VM generation UUID (text or 16 raw bytes); only its keyed hash is served"
            case .hashKeyFile: return "key for the uuid_hash HMAC: the file's exact bytes"
            case .maxConnections: return "open connections for ordinary requests, all peers together (10000)"
            case .maxConnectionsPerPeer:
                return "the same per peer, a uid on the Unix socket or an address on TCP (half the above)"
            case .requestHeaderTimeout: return "time a connection has to send a request's headers (5s)"
            case .allowedHost: return "a Host TCP requests may carry besides IP addresses and localhost; repeatable"
            case .threads: return "HTTP worker threads per listener (one per CPU)"
            case .exportSysgenid:
                return "keep a file in the /dev/sysgenid layout (u32 at offset 0 = low 32 bits of seq); repeatable"
            case .exportVmgenid: return "keep a file in the /dev/vmgenid layout; repeatable"
            case .adminUID: return "Unix-socket peer uid (number or name) allowed admin calls; repeatable"
            case .adminGID: return "Unix-socket peer gid (number or name) allowed admin calls; repeatable"
            case .adminTokenFile: return "file holding the bearer token for admin calls"
            case .readTokenFile: return "file holding a bearer token that reads must present (reads are open)"
            case .readTokenQuery:
                return "also take the read token as access_token on GET and HEAD, for EventSource "
                    + "(tokens in URLs reach proxy logs and browser history)"
            case .corsOrigin:
                return "origin (scheme://host[:port]) whose pages may read genidd, or '*'; repeatable"
            case .maxWatchersPerOwner: return "watchers one peer may create (100)"
            case .watcherExpiry: return "how long an absent watcher is kept: 300s, 10m (300s)"
            case .ackPolicy: return "when to acknowledge a sysgenid device (delivered)"
            case .logLevel: return "trace, debug, info, notice, warning, error or critical (info)"
            case .logFormat: return "log lines as text or json (text)"
            case .probeRoot: return "where auto looks for /dev and /sys (tests)"
            }
        }
    }

    /// The options' values from the environment (`GENIDD_*`), for those the
    /// command line did not give.
    public static func environmentValues(for option: Option) -> [String] {
        guard let raw = getenv(option.environmentVariable) else { return [] }
        let text = String(cString: raw)
        if text.isEmpty { return [] }
        if option.isFlag {
            return ["1", "true", "yes"].contains(text.lowercased()) ? ["1"] : []
        }
        return option.isRepeatable ? text.split(separator: ",").map(String.init) : [text]
    }

    /// Takes the values given for `option`. Throws a ``ConfigurationError``
    /// whose message names the flag and says what is expected.
    public mutating func apply(_ option: Option, _ values: [String]) throws(ConfigurationError) {
        guard let text = values.last else { return }
        let flag = option.flag
        func fail(_ expectation: String) -> ConfigurationError {
            ConfigurationError("\(flag) must be \(expectation), got '\(text)'")
        }
        func duration(_ range: ClosedRange<Duration>, _ expectation: String) throws(ConfigurationError) -> Duration {
            guard let duration = DurationText.parse(text), range.contains(duration) else { throw fail(expectation) }
            return duration
        }
        func integer(_ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard let value = Int(text), range.contains(value) else {
                throw fail("an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        switch option {
        case .source:
            do {
                source = try SourceSpec(parsing: text)
            } catch {
                throw ConfigurationError("\(flag): \(error)")
            }
        case .checkInterval:
            probe.checkInterval = try duration(
                .milliseconds(1)...(.seconds(60)), "a duration from 1ms to 60s, such as 100ms")
        case .listen:
            do {
                listen = try values.map { try ListenAddress(parsing: $0) }
            } catch {
                throw ConfigurationError("\(error)")
            }
        case .noTCP:
            listen = []
        case .unix:
            unixSocket = text
        case .noUnix:
            unixSocket = nil
            unixDisabled = true
        case .unixMode:
            guard let mode = UInt32(text, radix: 8), mode <= 0o777 else { throw fail("octal permissions such as 0660") }
            unixSocketMode = mode
        case .unixGroup:
            unixSocketGroup = try Self.groupID(text, flag: flag)
        case .stateDir:
            guard !text.isEmpty else { throw fail("a directory") }
            stateDirectory = text
        case .heartbeat:
            heartbeat = try duration(.milliseconds(1)...(.seconds(86_400)), "a duration such as 15, 15s or 500ms")
        case .uuidFile:
            uuidFile = text
        case .hashKeyFile:
            hashKeyFile = text
        case .maxConnections:
            maxConnections = try integer(1...1_000_000)
        case .maxConnectionsPerPeer:
            maxConnectionsPerPeer = try integer(1...1_000_000)
        case .requestHeaderTimeout:
            requestHeaderTimeout = try duration(
                .milliseconds(100)...(.seconds(300)), "a duration from 100ms to 300s, such as 5s")
        case .allowedHost:
            for host in values where host.isEmpty || host.contains(where: { $0 == ":" || $0 == "/" || $0 == " " }) {
                throw ConfigurationError("\(flag) takes a host name without port, got '\(host)'")
            }
            allowedHosts = values
        case .threads:
            threads = try integer(1...256)
        case .exportSysgenid:
            exportSysgenid = values
        case .exportVmgenid:
            exportVmgenid = values
        case .adminUID:
            accessPolicy.adminUIDs = Set(
                try values.map { (value) throws(ConfigurationError) in
                    try Self.userID(value, flag: flag)
                })
        case .adminGID:
            accessPolicy.adminGIDs = Set(
                try values.map { (value) throws(ConfigurationError) in
                    try Self.groupID(value, flag: flag)
                })
        case .adminTokenFile:
            adminTokenFile = text
        case .readTokenFile:
            readTokenFile = text
        case .readTokenQuery:
            accessPolicy.readTokenInQuery = true
        case .corsOrigin:
            for origin in values where origin != "*" && CrossOriginPolicy.normalize(origin) == nil {
                throw ConfigurationError(
                    "\(flag) takes an origin, scheme://host[:port] with http or https and no path "
                        + "(such as https://dash.example.com), or '*', got '\(origin)'")
            }
            corsOrigins = values
        case .maxWatchersPerOwner:
            maxWatchersPerOwner = try integer(1...10_000)
        case .watcherExpiry:
            watcherExpiry = try duration(
                .seconds(1)...(.seconds(86_400)), "a duration of at least 1s, such as 300s or 10m")
        case .ackPolicy:
            guard let policy = AcknowledgementPolicy(rawValue: text) else { throw fail("delivered or watchers") }
            acknowledgementPolicy = policy
        case .logLevel:
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw fail("one of " + Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
            }
            logLevel = level
        case .logFormat:
            guard let format = LineLogHandler.Format(rawValue: text.lowercased()) else { throw fail("text or json") }
            logFormat = format
        case .probeRoot:
            probe.deviceRoot = text + "/dev"
            probe.sysfsRoot = text + "/sys"
        }
    }

    /// Checks what depends on several options, once all are applied, and
    /// fills in the defaults that depend on others (the socket in the state directory).
    public mutating func finish() throws(ConfigurationError) {
        if unixSocket == nil && !unixDisabled {
            unixSocket = stateDirectory + "/genidd.sock"
        }
        if listen.isEmpty && unixSocket == nil {
            throw ConfigurationError("--no-tcp and --no-unix together leave nothing to listen on")
        }
        if accessPolicy.readTokenInQuery && readTokenFile == nil {
            throw ConfigurationError("--read-token-query needs --read-token-file (without it, reads need no token)")
        }
        if let perPeer = maxConnectionsPerPeer, perPeer > maxConnections {
            throw ConfigurationError(
                "--max-connections-per-peer must be at most --max-connections (\(maxConnections)), got \(perPeer)")
        }
    }

    private static func groupID(_ text: String, flag: String) throws(ConfigurationError) -> gid_t {
        if let number = gid_t(text) {
            return number
        }
        guard let entry = getgrnam(text) else {
            throw ConfigurationError("\(flag): no group named '\(text)'")
        }
        return entry.pointee.gr_gid
    }

    private static func userID(_ text: String, flag: String) throws(ConfigurationError) -> uid_t {
        if let number = uid_t(text) {
            return number
        }
        guard let entry = getpwnam(text) else {
            throw ConfigurationError("\(flag): no user named '\(text)'")
        }
        return entry.pointee.pw_uid
    }
}
