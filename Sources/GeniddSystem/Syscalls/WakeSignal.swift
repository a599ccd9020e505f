#if canImport(Glibc)
    import Glibc
#endif

/// An `eventfd` that wakes a thread blocked in `poll()`: used to stop the
/// source and sweeper threads, and to tell the sweeper about a nearer deadline.
public final class WakeSignal: Sendable {
    /// The descriptor to include in a `poll()` set (readable once signalled).
    public let descriptor: Int32

    public init() throws {
        descriptor = try KernelShims.makeEventDescriptor()
    }

    deinit {
        close(descriptor)
    }

    /// Makes the descriptor readable; safe from any thread.
    public func signal() {
        var one: UInt64 = 1
        _ = write(descriptor, &one, 8)
    }

    /// Resets the descriptor after a wake-up.
    public func drain() {
        var value: UInt64 = 0
        _ = read(descriptor, &value, 8)
    }
}
