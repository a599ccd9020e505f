import ArgumentParser
import GeniddClient
import GeniddSystem
import Logging

/// `genidd watch`: follows genidd's event stream and reacts to each new generation.
struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow genidd's events; print each new generation and optionally run a command for it.",
        discussion: """
            Subscribes to GET /v1/events and stays subscribed across daemon restarts and network \
            drops: it reconnects with exponential backoff (100 ms doubling to 5 s, with jitter), \
            resumes with Last-Event-ID, and treats a stream silent for --stall-timeout (no \
            keepalive) as dead.

            For each new generation (a seq, or a genidd instance, it has not seen) it prints a line \
            (or the JSON with --json) and runs --exec CMD as /bin/sh -c CMD with GENIDD_SEQ, \
            GENIDD_GENERATION, GENIDD_UUID_HASH (empty when there is none), GENIDD_SOURCE, \
            GENIDD_INSTANCE, GENIDD_CHANGED_AT and GENIDD_GENERATION_ID in its environment. The first state after start \
            is the baseline: the command runs for it only with --exec-on-start.

            With --watcher NAME it subscribes as that watcher and acknowledges a seq once the \
            command exited 0 (without --exec: once printed). A failed command is logged and not \
            acknowledged, so GET /v1/watchers shows the watcher outdated.

            Progress and errors go to standard error. Exit status: 0 on SIGTERM or SIGINT; 1 when \
            genidd refuses the subscription for good (a bad token, for example); 64 for bad flags.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Command to run for each new generation, with /bin/sh -c.")
    var exec: String?

    @Flag(help: "Run --exec for the state seen at start too.")
    var execOnStart = false

    @Option(help: "Subscribe as this watcher and acknowledge each generation handled (1-64 of A-Z a-z 0-9 . _ -).")
    var watcher: String?

    @Option(
        help: """
            File holding the secret that proves this client owns --watcher (16-128 printable ASCII \
            characters), so that a restarted watch keeps its watcher over TCP (default: a random \
            secret for this run; over the Unix socket the uid suffices).
            """)
    var watcherSecretFile: String?

    @Flag(help: "Print JSON documents (generation states, clock disruptions) instead of lines.")
    var json = false

    @Option(
        help: """
            Reconnect when nothing, not even a keepalive, arrives for this long: about 3 times genidd's \
            --heartbeat.
            """)
    var stallTimeout: String = "45s"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        if let watcher, !WatcherName.isValid(watcher) {
            throw ValidationError("--watcher must be 1-64 of A-Z a-z 0-9 . _ - not starting with '.', got '\(watcher)'")
        }
        if watcherSecretFile != nil && watcher == nil {
            throw ValidationError("--watcher-secret-file needs --watcher")
        }
        if execOnStart && exec == nil {
            throw ValidationError("--exec-on-start needs --exec")
        }
        if let exec, exec.trimmingWhitespace().isEmpty {
            throw ValidationError("--exec needs a command")
        }
        guard let stall = DurationText.parse(stallTimeout), stall >= .milliseconds(100) else {
            throw ValidationError(
                "--stall-timeout must be a duration of at least 100ms, such as 45s, got '\(stallTimeout)'")
        }
        _ = stall
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("--log-level must be one of \(names), got '\(logLevel)'")
        }
    }

    func run() throws {
        // First, before libcurl starts any thread: SIGTERM and SIGINT then reach only the signalfd.
        let signals = try StopSignals()
        ConnectionOptions.bootstrapLogging(level: Logger.Level(rawValue: logLevel.lowercased()) ?? .info)
        let client = try connection.makeClient(signals: signals)
        if watcher != nil {
            client.watcherSecret = try watcherSecret()
        }
        var configuration = WatchConfiguration()
        configuration.command = exec
        configuration.commandOnStart = execOnStart
        configuration.watcher = watcher
        configuration.json = json
        configuration.stallMilliseconds =
            DurationText.parse(stallTimeout)?.milliseconds ?? configuration.stallMilliseconds
        let watch = GenerationWatcher(
            client: client, configuration: configuration, signals: signals, logger: Logger(label: "genidd.watch"),
            output: Console.out)
        try watch.run()
    }

    /// The secret from --watcher-secret-file, or a random one for this run.
    private func watcherSecret() throws -> String {
        guard let path = watcherSecretFile else { return RandomBytes.hex(count: 16) }
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readSmallFile(path, limit: 4096)
        } catch {
            throw ValidationError("--watcher-secret-file: \(error)")
        }
        let secret = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        guard WatcherName.isValidSecret(Array(secret.utf8)) else {
            throw ValidationError(
                "--watcher-secret-file: \(path) must hold 16 to 128 printable ASCII characters without spaces")
        }
        return secret
    }
}
