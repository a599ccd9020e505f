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

    /// How long shutdown waits for SSE streams to end before stopping anyway.
    static let shutdownGraceMilliseconds = 700

    /// Runs until SIGTERM or SIGINT. Throws for configuration errors found at start-up.
    public func run() throws {
        Self.blockTerminationSignals()
        signal(SIGPIPE, SIG_IGN)
        Self.raiseFileLimit(atLeast: configuration.maxConnections + 256)

        let store = try StateStore(directory: configuration.stateDirectory)
        let hasher = try makeHasher()
        let logger = self.logger
        let choice = try configuration.probe.resolve(configuration.source) { warning in
            logger.warning("\(warning)")
        }
        let metrics = DaemonMetrics(version: configuration.version, source: choice.source.name)
        let hub = try GenerationHub(
            heartbeatMilliseconds: configuration.heartbeatMilliseconds,
            watcherExpiryMilliseconds: configuration.watcherExpiryMilliseconds, logger: logger, metrics: metrics)
        let exporter = try GenerationExporter(
            paths: configuration.exportSysgenid + configuration.exportVmgenid, logger: logger)
        let tracker = GenerationTracker(
            store: store, hub: hub, hasher: hasher, exporter: exporter, metrics: metrics,
            sourceName: choice.source.name, logger: logger)
        let runner = try SourceRunner(
            source: choice.source, companions: choice.companions, tracker: tracker,
            acknowledgementPolicy: configuration.acknowledgementPolicy, logger: logger)
        runner.openNow()
        // After the first open: a VMClock learns from its page whether the
        // device notifies (poll) or has to be re-read (interval).
        logger.info(
            "source chosen",
            metadata: [
                "source": "\(choice.source.name)", "notification": "\(choice.source.notification.rawValue)",
                "why": "\(choice.reason)",
            ])
        metrics.describeSource(choice.source.name, notification: choice.source.notification.rawValue)

        let sockets = try openListeners()
        let server = HTTPServer(
            hub: hub, limits: HTTPLimits(maxConnections: configuration.maxConnections),
            policy: configuration.accessPolicy, bumper: choice.source.makeBumper(), metrics: metrics)
        var daemons: [MicroHTTPDaemon] = []
        defer { sockets.forEach { $0.close() } }
        let settings = MicroHTTPDaemonSettings(
            threads: configuration.threads,
            connectionLimit: configuration.maxConnections + 64,
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
        let sweeper = try Sweeper(hub: hub)
        try runner.start()
        logger.notice(
            "ready", metadata: ["seq": "\(tracker.current.seq)", "generation": "\(tracker.current.generation)"])
        ServiceManager.notify("READY=1\nSTATUS=serving seq \(tracker.current.seq) from \(choice.source.name)")

        let signalNumber = Self.waitForTerminationSignal()
        logger.notice("shutting down", metadata: ["signal": "\(signalNumber)"])
        ServiceManager.notify("STOPPING=1")
        daemons.forEach { $0.quiesce() }
        hub.beginShutdown()
        let deadline = MonotonicClock.nanoseconds() + UInt64(Self.shutdownGraceMilliseconds) * 1_000_000
        while hub.subscriberCounts != (0, 0) && MonotonicClock.nanoseconds() < deadline {
            usleep(5000)
        }
        // Resumed connections need a moment to leave libmicrohttpd's suspended list.
        usleep(20000)
        daemons.forEach { $0.stop() }
        sweeper.stop()
        runner.stop()
        logger.notice("stopped")
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

    /// Blocks SIGTERM and SIGINT in this thread before any other thread
    /// starts, so that every thread inherits the mask and only `sigwait` sees them.
    private static func blockTerminationSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    private static func waitForTerminationSignal() -> Int32 {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        return received
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
