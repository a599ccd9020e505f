#if canImport(Glibc)
    import Glibc
#endif

/// A plain POSIX thread for the loops that block in `poll()`: the source
/// reader and the sweeper. They must never run on Swift's cooperative pool,
/// where a blocking call would starve other work.
public final class OSThread: Sendable {
    private let handle: pthread_t
    /// Signalled when the body returns, so that a join can give up after a deadline.
    private let finished: WakeSignal

    private final class Box {
        let name: String
        let body: () -> Void
        let finished: WakeSignal
        init(_ name: String, _ body: @escaping () -> Void, _ finished: WakeSignal) {
            self.name = name
            self.body = body
            self.finished = finished
        }
    }

    /// Starts `body` on a new thread named `name` (visible in `top -H`, at most 15 bytes).
    public init(name: String, _ body: @escaping @Sendable () -> Void) throws {
        let finished = try WakeSignal()
        let box = Unmanaged.passRetained(Box(name, body, finished)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { context in
                let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
                KernelShims.setThreadName(box.name)
                box.body()
                box.finished.signal()
                return nil
            }, box)
        if result != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("pthread_create", code: result)
        }
        handle = thread
        self.finished = finished
    }

    /// Waits for the thread to finish.
    public func join() {
        pthread_join(handle, nil)
    }

    /// Waits at most `timeout` for the thread to finish. Returns false, and
    /// detaches the thread, when it is still running then (stuck in a system
    /// call): the process can exit without it.
    public func join(timeout: Duration) -> Bool {
        if MonotonicClock.sleep(for: timeout, unlessSignalled: finished) {
            pthread_join(handle, nil)
            return true
        }
        pthread_detach(handle)
        return false
    }
}
