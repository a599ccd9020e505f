import GeniddGeneration
import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The running genidd: state, source thread, sweeper and HTTP listeners, with
/// one start-up path and one shutdown path.
public final class Daemon {
    private let configuration: DaemonConfiguration
    private let logger: Logger

    public init(configuration: DaemonConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Connections libmicrohttpd accepts beyond `--max-connections`, for probes.
    static let probeReserve = 256

    /// How long shutdown waits for SSE streams to end before stopping anyway.
    static let shutdownGrace = Duration.milliseconds(700)

    /// Signals that end genidd cleanly.
    static let terminationSignals = [SIGTERM, SIGINT, SIGQUIT]
    /// Signals genidd handles or logs instead of dying silently: SIGHUP
    /// reloads (finds the source again, re-reads token files), SIGUSR1 logs
    /// the current state, SIGUSR2 and SIGALRM are logged and ignored.
    static let handledSignals = terminationSignals + [SIGHUP, SIGUSR1, SIGUSR2, SIGALRM]

    /// Runs until SIGTERM, SIGINT or SIGQUIT. Throws for configuration errors found at start-up.
    public func run() throws {
        // Before any thread starts, so that every thread inherits the mask
        // and the signals reach only this descriptor.
        let signals = try SignalDescriptor(Self.handledSignals)
        signal(SIGPIPE, SIG_IGN)
        Self.raiseFileLimit(atLeast: configuration.maxConnections + Self.probeReserve + 256)

        let store = try StateStore(directory: configuration.stateDirectory)
        let hasher = try makeHasher()
        let policy = try loadPolicy()
        let logger = self.logger
        let configuration = self.configuration
        let resolve = {
            try configuration.probe.resolve(configuration.source) { warning in logger.warning("\(warning)") }
        }
        let choice = try resolve()
        let metrics = DaemonMetrics(version: configuration.version, source: choice.source.name)
        let hub = try GenerationHub(
            heartbeat: configuration.heartbeat, watcherExpiry: configuration.watcherExpiry,
            watchersPerOwner: configuration.maxWatchersPerOwner, logger: logger, metrics: metrics)
        let exporter = try GenerationExporter(
            paths: configuration.exportSysgenid + configuration.exportVmgenid, logger: logger)
        let tracker = try GenerationTracker(
            store: store, publisher: hub, hasher: hasher, exporter: exporter, observer: metrics,
            sourceName: choice.source.name, logger: logger)
        let watchers = try WatcherPersistence(
            hub: hub, directory: store.directory, bootID: StateStore.currentBootID(), logger: logger)
        let connections = try ConnectionTable(
            limits: ConnectionTable.Limits(
                total: configuration.maxConnections,
                perPeer: configuration.maxConnectionsPerPeer ?? max(1, configuration.maxConnections / 2),
                headerTimeout: configuration.requestHeaderTimeout),
            wake: hub.sweeperWake)
        let server = HTTPServer(
            hub: hub, limits: HTTPLimits(), connections: connections,
            hostCheck: HostCheck(allowedNames: Set(configuration.allowedHosts)),
            crossOrigin: CrossOriginPolicy(origins: configuration.corsOrigins), policy: policy,
            bumper: choice.source.makeBumper(), metrics: metrics)
        let runner = try SourceRunner(
            source: choice.source, companions: choice.companions, tracker: tracker,
            acknowledgementPolicy: configuration.acknowledgementPolicy, logger: logger, resolve: resolve,
            switched: { choice in
                metrics.describeSource(choice.source.name, notification: choice.source.notification.rawValue)
                server.replaceBumper(choice.source.makeBumper())
            })
        runner.openNow()
        // After the first open: a VMClock learns from its page whether the
        // device notifies (poll) or has to be re-read (interval), a sysgenid
        // device which ioctl ABI it speaks; what the source reports about
        // itself (as in /readyz) goes into the line too.
        var chosen: Logger.Metadata = [
            "source": "\(choice.source.name)", "notification": "\(choice.source.notification.rawValue)",
            "why": "\(choice.reason)",
        ]
        for (key, value) in hub.sourceStatus where chosen[key] == nil {
            chosen[key] = "\(value.stringValue ?? JSONCodec.encode(value))"
        }
        logger.info("source chosen", metadata: chosen)
        metrics.describeSource(choice.source.name, notification: choice.source.notification.rawValue)

        let sockets = try openListeners()
        var daemons: [MicroHTTPDaemon] = []
        defer { sockets.forEach { $0.close() } }
        let settings = MicroHTTPDaemonSettings(
            threads: configuration.threads,
            // Room beyond the ordinary budget for probe-only connections
            // (see ConnectionTable): probes still get in when it is spent.
            connectionLimit: configuration.maxConnections + Self.probeReserve,
            // Holds a request's line, headers and query arguments, and the write
            // buffer; 6 KiB keeps an idle SSE subscriber near 11 KiB of RSS
            // while leaving room for error responses to oversized requests.
            connectionMemoryLimit: 6144,
            idleTimeoutSeconds: 60)
        for socket in sockets {
            do {
                daemons.append(
                    try MicroHTTPDaemon(
                        listenDescriptor: socket.descriptor, listener: socket.kind, settings: settings,
                        handler: server))
            } catch {
                daemons.forEach { $0.stop() }
                throw ConfigurationError("cannot start the HTTP server on \(socket.boundDescription)")
            }
            logger.notice("listening", metadata: ["address": "\(socket.boundDescription)"])
        }
        let sweeper = try Sweeper(hub: hub, connections: connections, logger: logger)
        try runner.start()
        logger.notice(
            "ready", metadata: ["seq": "\(tracker.current.seq)", "generation": "\(tracker.current.generation)"])
        ServiceManager.notify("READY=1\nSTATUS=serving seq \(tracker.current.seq) from \(choice.source.name)")

        let signalNumber = waitForTermination(signals) { number in
            switch number {
            case SIGHUP:
                logger.notice("SIGHUP: finding the source again and re-reading token files")
                runner.reload()
                do {
                    server.replacePolicy(try loadPolicy())
                } catch {
                    logger.error("SIGHUP: keeping the previous tokens", metadata: ["problem": "\(error)"])
                }
            case SIGUSR1:
                let state = hub.published?.state
                let counts = hub.subscriberCounts
                logger.notice(
                    "SIGUSR1: status",
                    metadata: [
                        "seq": "\(state?.seq ?? 0)", "generation": "\(state?.generation ?? 0)",
                        "source": "\(state?.source ?? "")", "stale": "\(state?.stale ?? true)",
                        "sse_subscribers": "\(counts.streams)", "long_polls": "\(counts.longPolls)",
                        "connections": "\(server.connectionCount)",
                    ])
            default:
                logger.notice("ignoring a signal", metadata: ["signal": "\(Self.signalName(number))"])
            }
        }
        logger.notice("shutting down", metadata: ["signal": "\(Self.signalName(signalNumber))"])
        ServiceManager.notify("STOPPING=1")
        daemons.forEach { $0.quiesce() }
        hub.beginShutdown()
        // Every held request was resumed; once each has ended, libmicrohttpd
        // has taken it off its suspended list and may be stopped.
        if !connections.waitUntilNoRequests(timeout: Self.shutdownGrace) {
            logger.warning("some requests had not ended after the shutdown grace; stopping anyway")
        }
        daemons.forEach { $0.stop() }
        sweeper.stop()
        watchers.stop()
        runner.stop()
        logger.notice("stopped")
    }

    /// Waits for a termination signal, handing every other one to `other`.
    private func waitForTermination(_ signals: SignalDescriptor, other: (Int32) -> Void) -> Int32 {
        while true {
            var entry = pollfd(fd: signals.descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, -1)
            do {
                while let number = try signals.take() {
                    if Self.terminationSignals.contains(number) {
                        return number
                    }
                    other(number)
                }
            } catch {
                logger.critical("cannot read signals; shutting down", metadata: ["problem": "\(error)"])
                return SIGTERM
            }
        }
    }

    /// `SIGHUP` for 1, and so on.
    static func signalName(_ number: Int32) -> String {
        let names: [Int32: String] = [
            SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGTERM: "SIGTERM", SIGUSR1: "SIGUSR1",
            SIGUSR2: "SIGUSR2", SIGALRM: "SIGALRM",
        ]
        return names[number] ?? "signal \(number)"
    }

    /// The access policy with tokens read from their files now.
    private func loadPolicy() throws -> AccessPolicy {
        var policy = configuration.accessPolicy
        let logger = self.logger
        let warn: (String) -> Void = { logger.warning("\($0)") }
        if let path = configuration.adminTokenFile {
            policy.adminToken = try TokenFile.load(path, flag: "--admin-token-file", warn: warn)
        }
        if let path = configuration.readTokenFile {
            policy.readToken = try TokenFile.load(path, flag: "--read-token-file", warn: warn)
        }
        return policy
    }

    private func makeHasher() throws -> UUIDHasher? {
        guard let uuidFile = configuration.uuidFile else {
            if configuration.hashKeyFile != nil {
                logger.warning("--hash-key-file has no effect without --uuid-file")
            }
            return nil
        }
        var key: [UInt8] = []
        if let keyFile = configuration.hashKeyFile {
            do {
                key = try FileIO.readSmallFile(keyFile, limit: 65536)
            } catch {
                throw ConfigurationError("--hash-key-file: \(error)")
            }
        }
        let hasher = try UUIDHasher(uuidFile: uuidFile, key: key)
        do {
            _ = try hasher.hash()
        } catch {
            logger.warning(
                "--uuid-file is not usable yet; uuid_hash stays null until it is", metadata: ["problem": "\(error)"])
        }
        return hasher
    }

    private func openListeners() throws -> [ListeningSocket] {
        let inherited = try ServiceManager.inheritedListeners()
        if !inherited.isEmpty {
            logger.info(
                "socket-activated: using the listeners the service manager passed instead of --listen/--unix",
                metadata: ["count": "\(inherited.count)"])
            return inherited
        }
        var sockets: [ListeningSocket] = []
        do {
            for address in configuration.listen {
                sockets.append(try ListeningSocket(tcp: address))
            }
            if let path = configuration.unixSocket {
                sockets.append(
                    try ListeningSocket(
                        unixPath: path, mode: configuration.unixSocketMode, group: configuration.unixSocketGroup))
            }
        } catch {
            sockets.forEach { $0.close() }
            throw error
        }
        return sockets
    }

    /// Each connection is a descriptor: raise the soft limit toward the hard one.
    private static func raiseFileLimit(atLeast wanted: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let target = min(rlim_t(wanted), limit.rlim_max)
        if limit.rlim_cur < target {
            limit.rlim_cur = target
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
    }
}
