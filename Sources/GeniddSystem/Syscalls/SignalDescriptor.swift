#if canImport(Glibc)
    import Glibc
#endif

/// Signals delivered through a descriptor (`signalfd`) instead of handlers, so
/// that a single-threaded program waits for them in the same `poll()` as its
/// sockets and children.
///
/// The signals are blocked in the calling thread first: create it before any
/// other thread starts, so that every thread inherits the mask and the signals
/// reach only the descriptor. Children must unblock them (`posix_spawn` with
/// `POSIX_SPAWN_SETSIGMASK`), since a blocked mask survives `exec`.
public final class SignalDescriptor {
    /// The descriptor to include in a `poll()` set (readable while a signal is pending).
    public let descriptor: Int32

    /// Blocks `signals` (`pthread_sigmask`) and opens a signalfd for them.
    public init(_ signals: [Int32]) throws {
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals {
            sigaddset(&set, number)
        }
        let result = pthread_sigmask(SIG_BLOCK, &set, nil)
        guard result == 0 else { throw SystemError("pthread_sigmask", code: result) }
        descriptor = try KernelShims.signalDescriptor(&set)
    }

    deinit {
        close(descriptor)
    }

    /// The next pending signal (`read` of one `signalfd_siginfo`), or nil when none is pending.
    public func take() throws -> Int32? {
        try KernelShims.takeSignal(descriptor)
    }
}
