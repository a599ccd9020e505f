#if canImport(Glibc)
    import Glibc
#endif

/// Time helpers: a monotonic clock for deadlines and the wall clock for `changed_at`.
public enum MonotonicClock {
    /// Nanoseconds on `CLOCK_MONOTONIC`, which never jumps with the wall clock.
    public static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Milliseconds since the Unix epoch on the wall clock.
    public static func wallMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Sleeps on a wake signal: returns early (true) when it is signalled.
    public static func sleep(milliseconds: Int, unlessSignalled wake: WakeSignal) -> Bool {
        var entry = pollfd(fd: wake.descriptor, events: Int16(POLLIN), revents: 0)
        let result = poll(&entry, 1, Int32(clamping: milliseconds))
        return result > 0
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
}
