import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Drives the generation source (and any companions that only report clock
/// disruptions) on one thread: opens it, waits in `poll()` on its descriptor
/// or until its check interval (no busy polling), feeds events to the
/// ``GenerationTracker``, and reopens it with exponential backoff when it fails.
public final class SourceRunner: @unchecked Sendable {
    // Unchecked: the sources are touched by the main thread only before
    // `start()` and by the runner thread after it; `stop()` and `reload()` only signal.
    private var source: any GenerationSource
    private var companions: [Companion]
    private let tracker: GenerationTracker
    private let logger: Logger
    private let wake: WakeSignal
    private let reloadSignal: WakeSignal
    /// Finds the source again on `reload()` (SIGHUP): `auto` may now pick another.
    private let resolve: (() throws -> SourceProbe.Choice)?
    /// Told when `reload()` switched to another source.
    private let switched: ((SourceProbe.Choice) -> Void)?
    private var thread: OSThread?
    private var isOpen = false
    private var backoff = SourceRunner.initialBackoff
    private var nextAttempt = MonotonicInstant(nanoseconds: 0)
    private let acknowledgementPolicy: AcknowledgementPolicy
    /// A delivered reading whose acknowledgement waits for HTTP watchers.
    private var awaitingWatchers: SourceReading?
    /// When failed writes are retried next (monotonic ns), once some failed.
    private var nextWriteRetry: MonotonicInstant?
    /// How often a held acknowledgement is re-checked, in ms.
    static let watcherCheckInterval = Duration.milliseconds(20)
    /// How often failed writes (state, export files) are retried, in ms.
    static let writeRetryInterval = Duration.seconds(1)
    /// How long `stop()` waits for a source stuck in a system call.
    static let stopTimeout = Duration.milliseconds(300)

    /// Backoff between reopen attempts: 100 ms doubling to 5 s.
    static let initialBackoff = Duration.milliseconds(100)
    static let maximumBackoff = Duration.seconds(5)
    /// Companion sources (clock disruptions only) are reopened this often.
    static let companionRetry = Duration.seconds(5)

    /// A source watched only for clock disruptions, reopened every 5 s when it fails.
    private final class Companion {
        let source: any GenerationSource
        var isOpen = false
        var nextAttempt = MonotonicInstant(nanoseconds: 0)
        init(_ source: any GenerationSource) { self.source = source }
    }

    /// - Parameters:
    ///   - resolve: builds the source anew for `reload()`; nil reopens the same one.
    ///   - switched: called on the runner thread when a reload chose another source.
    public init(
        source: any GenerationSource, companions: [any GenerationSource] = [], tracker: GenerationTracker,
        acknowledgementPolicy: AcknowledgementPolicy = .delivered, logger: Logger,
        resolve: (() throws -> SourceProbe.Choice)? = nil, switched: ((SourceProbe.Choice) -> Void)? = nil
    ) throws {
        self.acknowledgementPolicy = acknowledgementPolicy
        self.source = source
        self.companions = companions.map(Companion.init)
        self.tracker = tracker
        self.logger = logger
        self.resolve = resolve
        self.switched = switched
        wake = try WakeSignal()
        reloadSignal = try WakeSignal()
    }

    /// Opens the sources once on the calling thread, so that the daemon
    /// normally serves a fresh state from its first request. Failure is not fatal.
    public func openNow() {
        attemptOpen()
        for companion in companions {
            open(companion)
        }
    }

    /// Starts the runner thread.
    public func start() throws {
        thread = try OSThread(name: "genidd-source") { [self] in run() }
    }

    /// Looks for the source again and reopens it (SIGHUP), on the runner thread.
    public func reload() {
        reloadSignal.signal()
    }

    /// Stops the runner thread and closes the sources. A source stuck in a
    /// system call is abandoned after ``stopTimeout`` (the process is exiting)
    /// rather than waited for.
    public func stop() {
        wake.signal()
        guard let thread else { return }
        self.thread = nil
        if thread.join(timeout: Self.stopTimeout) {
            source.close()
            companions.forEach { $0.source.close() }
        } else {
            logger.error("the source thread is stuck in a system call; exiting without it")
        }
    }

    private func attemptOpen() {
        do {
            let first = try source.open(resume: tracker.checkpoint(for: source))
            isOpen = true
            backoff = Self.initialBackoff
            process(first)
            tracker.updateStatus(sourceStatus())
        } catch {
            fail(error)
        }
    }

    private func fail(_ error: any Error) {
        isOpen = false
        source.close()
        tracker.sourceFailed(SourceError(error))
        nextAttempt = .now.advanced(by: backoff)
        backoff = min(backoff * 2, Self.maximumBackoff)
    }

    private func open(_ companion: Companion) {
        do {
            _ = try companion.source.open(resume: nil)
            companion.isOpen = true
            logger.info("watching clock disruptions", metadata: ["source": "\(companion.source.name)"])
        } catch {
            fail(companion, error, "cannot watch clock disruptions; retrying in 5 s")
        }
    }

    private func fail(_ companion: Companion, _ error: any Error, _ message: Logger.Message) {
        companion.isOpen = false
        companion.source.close()
        companion.nextAttempt = .now.advanced(by: Self.companionRetry)
        logger.warning(message, metadata: ["problem": "\(error)"])
    }

    /// How the source notices changes, plus what it reports about itself.
    private func sourceStatus() -> [(String, JSONValue)] {
        var status: [(String, JSONValue)] = [("notification", .string(source.notification.rawValue))]
        if let interval = source.checkInterval {
            status.append(("check_interval_ms", .int(Int64(interval.milliseconds))))
        }
        let watched = companions.filter(\.isOpen).flatMap { $0.source.status() }
        return status + source.status() + watched
    }

    /// Hands an event to the tracker and, for a reading, tells the source once
    /// the change (if any) has been delivered to subscribers.
    private func process(_ event: SourceEvent) {
        let published = tracker.handle(event, from: source)
        if case .reading(let reading) = event {
            if published && source.acknowledgesDelivery {
                tracker.awaitDelivery()
                if acknowledgementPolicy == .watchers && tracker.outdatedWatchers > 0 {
                    awaitingWatchers = reading
                    return
                }
            }
            awaitingWatchers = nil
            source.delivered(reading)
        }
    }

    /// Acknowledges a held reading once no HTTP watcher is outdated.
    private func releaseHeldAcknowledgement() {
        guard let reading = awaitingWatchers, tracker.outdatedWatchers == 0 else { return }
        awaitingWatchers = nil
        source.delivered(reading)
    }

    /// How long to wait in `poll()`: until the nearest interval check or
    /// reopen attempt (nil: until an event).
    private func pollTimeout(now: MonotonicInstant) -> Duration? {
        var timeout: Duration?
        func consider(_ wait: Duration) {
            timeout = min(timeout ?? wait, wait)
        }
        func consider(_ deadline: MonotonicInstant) {
            consider(deadline.duration(since: now))
        }
        if awaitingWatchers != nil {
            consider(Self.watcherCheckInterval)
        }
        if tracker.hasFailedWrites {
            consider(nextWriteRetry ?? now)
        }
        if isOpen {
            if let interval = source.checkInterval { consider(interval) }
        } else {
            consider(nextAttempt)
        }
        for companion in companions {
            if companion.isOpen {
                if let interval = companion.source.checkInterval { consider(interval) }
            } else {
                consider(companion.nextAttempt)
            }
        }
        return timeout
    }

    private func run() {
        while true {
            var entries = [
                pollfd(fd: wake.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: reloadSignal.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            // While an acknowledgement is held the device stays readable (genidd
            // is an outdated watcher): check it at the hold interval instead.
            if isOpen && source.descriptor >= 0 && awaitingWatchers == nil {
                entries.append(pollfd(fd: source.descriptor, events: Int16(POLLIN), revents: 0))
            }
            for companion in companions where companion.isOpen && companion.source.descriptor >= 0 {
                entries.append(pollfd(fd: companion.source.descriptor, events: Int16(POLLIN), revents: 0))
            }
            let timeout = Duration.pollTimeout(pollTimeout(now: .now))
            let ready = entries.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
            if ready < 0 && errno != EINTR {
                logger.critical("poll failed", metadata: ["problem": "\(SystemError("poll"))"])
                return
            }
            if entries[0].revents != 0 {
                return
            }
            if entries[1].revents != 0 {
                reloadSignal.drain()
                reloadSources()
                continue
            }
            let now = MonotonicInstant.now
            if !tracker.hasFailedWrites {
                nextWriteRetry = nil
            } else if let due = nextWriteRetry, now >= due {
                tracker.retryWrites()
                nextWriteRetry = now.advanced(by: Self.writeRetryInterval)
            } else if nextWriteRetry == nil {
                nextWriteRetry = now.advanced(by: Self.writeRetryInterval)
            }
            if isOpen {
                do {
                    let events = try source.check()
                    events.forEach(process)
                    if !events.isEmpty {
                        tracker.updateStatus(sourceStatus())
                    }
                } catch {
                    fail(error)
                }
            } else if now >= nextAttempt {
                attemptOpen()
            }
            for companion in companions {
                checkCompanion(companion, now: now)
            }
            if isOpen {
                releaseHeldAcknowledgement()
            }
        }
    }

    /// Closes every source, finds the source again and opens it at once.
    private func reloadSources() {
        source.close()
        companions.forEach { $0.source.close() }
        awaitingWatchers = nil
        if let resolve {
            do {
                let choice = try resolve()
                if choice.source.name != source.name {
                    logger.notice(
                        "reload: switching sources",
                        metadata: ["from": "\(source.name)", "to": "\(choice.source.name)", "why": "\(choice.reason)"])
                    switched?(choice)
                } else {
                    logger.notice("reload: reopening the source", metadata: ["source": "\(choice.source.name)"])
                }
                source = choice.source
                companions = choice.companions.map(Companion.init)
            } catch {
                logger.error(
                    "reload: no source found; reopening the current one",
                    metadata: ["source": "\(source.name)", "problem": "\(error)"])
            }
        } else {
            logger.notice("reload: reopening the source", metadata: ["source": "\(source.name)"])
        }
        backoff = Self.initialBackoff
        attemptOpen()
        for companion in companions {
            open(companion)
        }
    }

    private func checkCompanion(_ companion: Companion, now: MonotonicInstant) {
        guard companion.isOpen else {
            if now >= companion.nextAttempt { open(companion) }
            return
        }
        do {
            let events = try companion.source.check()
            for case .clockDisruption(let marker) in events {
                tracker.handle(.clockDisruption(marker: marker), from: companion.source)
            }
            if !events.isEmpty {
                tracker.updateStatus(sourceStatus())
            }
        } catch {
            fail(companion, error, "clock disruption watch failed; retrying in 5 s")
        }
    }
}
