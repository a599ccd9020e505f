/// The thread that answers expired long-polls and sends SSE heartbeats.
///
/// Suspended connections never time out in libmicrohttpd and never notice a
/// client that left; the heartbeat write is what frees dead subscribers. The
/// thread sleeps until the next deadline, so an idle daemon wakes only for
/// heartbeats.
public final class Sweeper: Sendable {
    private let hub: GenerationHub
    private let stopSignal: WakeSignal
    private let thread: OSThread

    public init(hub: GenerationHub) throws {
        let stopSignal = try WakeSignal()
        self.hub = hub
        self.stopSignal = stopSignal
        thread = try OSThread(name: "genidd-sweeper") {
            Self.run(hub: hub, stop: stopSignal)
        }
    }

    /// Stops the thread.
    public func stop() {
        stopSignal.signal()
        hub.sweeperWake.signal()
        thread.join()
    }

    private static func run(hub: GenerationHub, stop: WakeSignal) {
        while true {
            let now = MonotonicClock.nanoseconds()
            let next = hub.sweep(now: now)
            let waitMilliseconds = next == .max ? -1 : Int((next - min(next, now) + 999_999) / 1_000_000)
            _ = MonotonicClock.sleep(milliseconds: waitMilliseconds, unlessSignalled: hub.sweeperWake)
            hub.sweeperWake.drain()
            if MonotonicClock.sleep(milliseconds: 0, unlessSignalled: stop) {
                return
            }
        }
    }
}
