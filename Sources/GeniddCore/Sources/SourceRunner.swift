import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Drives one ``GenerationSource`` on its own thread: opens it, waits in
/// `poll()` for its descriptor (no busy polling), feeds events to the
/// ``GenerationTracker``, and reopens it with exponential backoff when it fails.
public final class SourceRunner: @unchecked Sendable {
    // Unchecked: `source` is touched by the main thread only before `start()`
    // and by the runner thread after it; `stop()` only signals.
    private let source: any GenerationSource
    private let tracker: GenerationTracker
    private let logger: Logger
    private let wake: WakeSignal
    private var thread: OSThread?
    private var isOpen = false

    /// Backoff between reopen attempts: 100 ms doubling to 5 s.
    static let initialBackoff = 100
    static let maximumBackoff = 5000

    public init(source: any GenerationSource, tracker: GenerationTracker, logger: Logger) throws {
        self.source = source
        self.tracker = tracker
        self.logger = logger
        wake = try WakeSignal()
    }

    /// Opens the source once on the calling thread, so that the daemon normally
    /// serves a fresh state from its first request. Failure is not fatal.
    public func openNow() {
        attemptOpen()
    }

    /// Starts the runner thread.
    public func start() throws {
        thread = try OSThread(name: "genidd-source") { [self] in run() }
    }

    /// Stops the runner thread and closes the source.
    public func stop() {
        wake.signal()
        thread?.join()
        thread = nil
        source.close()
    }

    private func attemptOpen() {
        do {
            let first = try source.open(resume: tracker.checkpoint(for: source))
            isOpen = true
            tracker.handle(first, from: source)
        } catch {
            isOpen = false
            source.close()
            tracker.sourceFailed("\(error)")
        }
    }

    private func run() {
        var backoff = Self.initialBackoff
        while true {
            if !isOpen {
                if MonotonicClock.sleep(milliseconds: backoff, unlessSignalled: wake) {
                    return
                }
                attemptOpen()
                backoff = isOpen ? Self.initialBackoff : min(backoff * 2, Self.maximumBackoff)
                continue
            }
            var entries = [
                pollfd(fd: wake.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: source.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            let timeout = Int32(clamping: source.checkInterval ?? -1)
            let ready = entries.withUnsafeMutableBufferPointer { poll($0.baseAddress, 2, timeout) }
            if ready < 0 && errno != EINTR {
                logger.critical("poll failed", metadata: ["problem": "\(SystemError("poll"))"])
                return
            }
            if entries[0].revents != 0 {
                return
            }
            do {
                for event in try source.check() {
                    tracker.handle(event, from: source)
                }
            } catch {
                isOpen = false
                source.close()
                tracker.sourceFailed("\(error)")
            }
        }
    }
}
