import GeniddSystem
import Logging

/// What `genidd watch` does for each new generation.
public struct WatchConfiguration: Sendable {
    /// Run `/bin/sh -c command` for each new generation.
    public var command: String?
    /// Run the command for the first state seen too (the baseline).
    public var commandOnStart = false
    /// Subscribe as this watcher and acknowledge handled generations.
    public var watcher: String?
    /// Print the JSON documents instead of lines.
    public var json = false
    /// Reconnect when the stream is silent this long (keepalives stopped).
    public var stallMilliseconds = 45_000
    /// The longest pause between reconnection attempts.
    public var maximumBackoffMilliseconds = 5000

    public init() {}
}

/// `genidd watch`: follows genidd's event stream for as long as it runs,
/// across daemon restarts and network drops, and reacts once to each new
/// generation: prints it, runs the command, acknowledges it.
///
/// A generation is new when its `seq` differs from the last one seen, or its
/// `instance` does (genidd's seq series restarted). The first state after
/// start is the baseline: printed, but the command runs for it only with
/// ``WatchConfiguration/commandOnStart``. Events that arrive while the command
/// runs are coalesced: the command then runs once more, for the newest.
public final class GenerationWatcher {
    private let client: DaemonClient
    private let configuration: WatchConfiguration
    private let signals: StopSignals
    private let logger: Logger
    private let output: (String) -> Void
    private let command: ShellCommand?
    private var backoff: ReconnectBackoff
    private var random = SystemRandomNumberGenerator()
    /// The last generation printed.
    private var last: GenerationSnapshot?
    /// A handled seq whose acknowledgement did not reach genidd; retried after reconnecting.
    private var unacknowledged: UInt64?

    /// - Parameter output: writes one line to standard output.
    public init(
        client: DaemonClient, configuration: WatchConfiguration, signals: StopSignals, logger: Logger,
        output: @escaping (String) -> Void
    ) {
        self.client = client
        self.configuration = configuration
        self.signals = signals
        self.logger = logger
        self.output = output
        command = configuration.command.map(ShellCommand.init)
        backoff = ReconnectBackoff(maximumMilliseconds: configuration.maximumBackoffMilliseconds)
    }

    /// Runs until SIGTERM or SIGINT (returns) or an answer that retrying
    /// cannot change, such as a refused token (throws ``ClientError``).
    public func run() throws {
        var metadata: Logger.Metadata = ["genidd": "\(client.address)"]
        metadata["watcher"] = configuration.watcher.map { "\($0)" }
        metadata["exec"] = configuration.command.map { "\($0)" }
        logger.info("watching", metadata: metadata)
        while !signals.stopRequested {
            do {
                try subscribeOnce()
                if signals.stopRequested {
                    break
                }
                logger.info("genidd ended the event stream (stopping or restarting); reconnecting")
            } catch ClientError.interrupted {
                break
            } catch let error as ClientError where error.isPermanent {
                throw error
            } catch {
                logger.info("\(error)")
            }
            let delay = backoff.nextDelay(using: &random)
            if signals.stopRequested {
                break
            }
            logger.debug("reconnecting in \(ClientError.seconds(delay)) s")
            guard signals.sleep(for: .milliseconds(delay)) else { break }
        }
        logger.info("stopped", metadata: ["signal": "\(signals.stopSignalName ?? "none")"])
    }

    /// One connection: where to resume, then the stream until it ends.
    private func subscribeOnce() throws {
        // `<instance>.<seq>`: genidd skips the state only when both match, so
        // a new series (lost state directory) is never mistaken for the old one.
        let lastEventID = last.map { "\($0.instance).\($0.seq)" }
        try client.subscribe(
            lastEventID: lastEventID, watcher: configuration.watcher,
            stallMilliseconds: configuration.stallMilliseconds, handler: self)
    }

    /// Prints a new generation, runs the command, acknowledges.
    private func react(to snapshot: GenerationSnapshot) throws {
        let baseline = last == nil
        if let last {
            guard last.seq != snapshot.seq || last.instance != snapshot.instance else { return }
            if last.instance != snapshot.instance {
                logger.info(
                    "genidd's seq series restarted (new instance): treating its state as new",
                    metadata: ["old_instance": "\(last.instance)", "instance": "\(snapshot.instance)"])
            }
        }
        last = snapshot
        unacknowledged = nil
        output(configuration.json ? snapshot.jsonText : snapshot.line)
        var handled = true
        if command != nil {
            if baseline && !configuration.commandOnStart {
                handled = false
                logger.info(
                    "baseline: not running the command for the state at start (--exec-on-start would)",
                    metadata: ["seq": "\(snapshot.seq)"])
            } else {
                handled = runCommand(for: snapshot)
            }
        }
        if handled && !signals.stopRequested {
            try acknowledge(snapshot.seq)
        }
    }

    /// Runs `--exec` for `snapshot`; returns whether it succeeded (exit status 0).
    private func runCommand(for snapshot: GenerationSnapshot) -> Bool {
        guard let command else { return true }
        let seq: Logger.Metadata = ["seq": "\(snapshot.seq)"]
        let consequence = configuration.watcher.map { "; not acknowledging seq \(snapshot.seq) as watcher \($0)" } ?? ""
        do {
            let outcome = try command.run(environment: snapshot.environment, signals: signals)
            guard outcome.succeeded else {
                logger.info("command failed (\(outcome))\(consequence)", metadata: seq)
                return false
            }
            logger.info("command succeeded", metadata: seq)
            return true
        } catch {
            logger.info("cannot run the command: \(error)\(consequence)", metadata: seq)
            return false
        }
    }

    /// Acknowledges `seq` as the watcher, if there is one. A refusal is
    /// logged (a newer seq is on its way); an outage is retried after reconnecting.
    private func acknowledge(_ seq: UInt64) throws {
        guard let watcher = configuration.watcher else { return }
        do {
            try client.acknowledge(watcher: watcher, seq: seq)
            logger.info("acknowledged", metadata: ["watcher": "\(watcher)", "seq": "\(seq)"])
        } catch ClientError.interrupted {
            throw ClientError.interrupted
        } catch let error as ClientError {
            if case .problem = error {
                logger.info("acknowledgement refused: \(error)", metadata: ["seq": "\(seq)"])
            } else {
                unacknowledged = seq
                logger.info("cannot acknowledge yet, will retry: \(error)", metadata: ["seq": "\(seq)"])
            }
        }
    }
}

extension GenerationWatcher: EventStreamHandler {
    func streamOpened() throws {
        backoff.reset()
        logger.info("connected", metadata: ["genidd": "\(client.address)"])
        if let seq = unacknowledged, seq == last?.seq {
            unacknowledged = nil
            try acknowledge(seq)
        }
    }

    func handle(_ events: [ServerSentEvent]) throws -> Bool {
        var newest: GenerationSnapshot?
        for event in events {
            switch event.type {
            case "generation":
                do {
                    newest = try GenerationSnapshot(text: Array(event.data.utf8))
                } catch {
                    logger.info("ignoring a generation event that is not a valid state: \(error)")
                }
            case "clock-disruption":
                if configuration.json {
                    output(event.data)
                } else {
                    logger.info(
                        "clock disruption (live migration): clocks need recalibrating",
                        metadata: ["data": "\(event.data)"])
                }
            default:
                logger.debug("ignoring an event of type \(event.type)")
            }
        }
        if let newest {
            try react(to: newest)
        }
        return !signals.stopRequested
    }
}
