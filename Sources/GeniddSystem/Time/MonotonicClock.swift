#if canImport(Glibc)
    import Glibc
#endif

/// A point in time on `CLOCK_MONOTONIC`, which never jumps with the wall
/// clock: what deadlines are made of. Durations between instants are
/// `Duration`s; nothing outside this file converts nanoseconds by hand.
public struct MonotonicInstant: Comparable, Hashable, Sendable {
    /// Nanoseconds since an arbitrary start (the boot, on Linux).
    public let nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    /// Now.
    public static var now: MonotonicInstant {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return MonotonicInstant(nanoseconds: UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec))
    }

    /// Later than any deadline.
    public static let never = MonotonicInstant(nanoseconds: .max)

    /// This instant plus `duration` (saturating at ``never``).
    public func advanced(by duration: Duration) -> MonotonicInstant {
        let (sum, overflow) = nanoseconds.addingReportingOverflow(duration.nanoseconds)
        return overflow ? .never : MonotonicInstant(nanoseconds: sum)
    }

    /// The time from `earlier` to this instant (zero when `earlier` is later).
    public func duration(since earlier: MonotonicInstant) -> Duration {
        .nanoseconds(Int64(clamping: nanoseconds - min(nanoseconds, earlier.nanoseconds)))
    }

    /// The time left until this instant (zero when it passed; nil for ``never``).
    public var remaining: Duration? {
        self == .never ? nil : duration(since: .now)
    }

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }
}

/// The wall clock for `changed_at`, and waiting with a timeout.
public enum MonotonicClock {
    /// Milliseconds since the Unix epoch on the wall clock.
    public static func wallMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Waits on a wake signal for at most `timeout` (nil: forever); returns
    /// true when it was signalled.
    static func sleep(for timeout: Duration?, unlessSignalled wake: WakeSignal) -> Bool {
        var entry = pollfd(fd: wake.descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, Duration.pollTimeout(timeout)) > 0
    }

    /// Waits until `deadline` or until `wake` is signalled; returns true when signalled.
    public static func sleep(until deadline: MonotonicInstant, unlessSignalled wake: WakeSignal) -> Bool {
        sleep(for: deadline.remaining, unlessSignalled: wake)
    }
}

extension Duration {
    /// Whole nanoseconds (negative durations count as zero).
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// Whole milliseconds, rounded down (negative durations count as zero).
    public var milliseconds: Int {
        Int(nanoseconds / 1_000_000)
    }

    /// The timeout argument of `poll()`: milliseconds rounded up (so that a
    /// wait never ends before its deadline), -1 for no timeout.
    public static func pollTimeout(_ timeout: Duration?) -> Int32 {
        guard let timeout else { return -1 }
        return Int32(clamping: (timeout.nanoseconds + 999_999) / 1_000_000)
    }
}
