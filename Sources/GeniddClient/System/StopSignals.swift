import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// SIGTERM and SIGINT (stop) and SIGCHLD (a command ended) for a client that
/// runs until stopped, all through one signalfd that transfers, sleeps and
/// command waits include in their `poll()`.
///
/// Create it first thing, before any thread starts (libcurl's resolver
/// threads too), so that the signals stay blocked everywhere.
public final class StopSignals {
    private let signals: SignalDescriptor
    /// The SIGTERM or SIGINT that arrived, once one did.
    public private(set) var stopSignal: Int32?

    public init() throws {
        signals = try SignalDescriptor([SIGTERM, SIGINT, SIGCHLD])
    }

    /// The descriptor for a `poll()` set.
    var descriptor: Int32 { signals.descriptor }

    /// `SIGTERM` or `SIGINT`, once one arrived.
    public var stopSignalName: String? {
        stopSignal.map { $0 == SIGINT ? "SIGINT" : "SIGTERM" }
    }

    /// True once SIGTERM or SIGINT arrived.
    public var stopRequested: Bool { stopSignal != nil }

    /// Consumes pending signals; returns ``stopRequested``.
    @discardableResult
    func check() -> Bool {
        while let number = try? signals.take() {
            if number == SIGTERM || number == SIGINT {
                stopSignal = stopSignal ?? number
            }
        }
        return stopRequested
    }

    /// Waits until a signal arrives or `milliseconds` pass (-1: no limit);
    /// returns ``stopRequested``.
    @discardableResult
    func wait(milliseconds: Int) -> Bool {
        if check() {
            return true
        }
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, Int32(clamping: milliseconds))
        return check()
    }

    /// Sleeps for `duration` unless SIGTERM or SIGINT comes first; returns
    /// false when stopped.
    func sleep(for duration: Duration) -> Bool {
        let deadline = MonotonicInstant.now.advanced(by: duration)
        while let remaining = deadline.remaining, remaining > .zero {
            if wait(milliseconds: Int(Duration.pollTimeout(remaining))) {
                return false
            }
        }
        return !check()
    }
}
