import GeniddGeneration
import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The thread that keeps time for connections libmicrohttpd does not look
/// at: it answers expired long-polls and sends SSE heartbeats (through the
/// hub), closes suspended connections whose clients hung up (the hub's
/// hang-up watch), and shuts down connections that did not send their
/// request headers in time (the connection table).
///
/// It sleeps until the next deadline or event, so an idle daemon wakes only
/// for heartbeats.
final class Sweeper: Sendable {
    private let hub: GenerationHub
    private let stopSignal: WakeSignal
    private let thread: OSThread

    /// After this many connections closed since the last trim (a wave that
    /// ended, or a stream of short ones), free heap memory goes back to the
    /// kernel, so RSS returns after a flood.
    static let trimAfterClosing = 1000
    /// How soon after a trim to look again: closes do not wake the sweeper,
    /// and the tail of a wave, closing after the trim, would otherwise keep
    /// its memory until some deadline happened to come.
    static let trimRecheck = Duration.milliseconds(250)

    init(hub: GenerationHub, connections: ConnectionTable, logger: Logger) throws {
        let stopSignal = try WakeSignal()
        self.hub = hub
        self.stopSignal = stopSignal
        thread = try OSThread(name: "genidd-sweeper") {
            Self.run(hub: hub, connections: connections, stop: stopSignal, logger: logger)
        }
    }

    /// Stops the thread.
    func stop() {
        stopSignal.signal()
        hub.sweeperWake.signal()
        thread.join()
    }

    private static func run(hub: GenerationHub, connections: ConnectionTable, stop: WakeSignal, logger: Logger) {
        var closedAtTrim = connections.closedTotal
        // After a trim: when to look again, and how many were open at the trim.
        var recheck: (at: MonotonicInstant, open: Int)?
        while true {
            let now = MonotonicInstant.now
            var next = hub.sweep(now: now)
            let expired = connections.expire(now: now)
            if expired.closed > 0 {
                hub.metrics?.connectionsClosed(.headerTimeout, count: expired.closed)
                logger.info(
                    "closed connections that sent no request in time", metadata: ["count": "\(expired.closed)"])
            }
            next = min(next, expired.next)
            // Return memory once a thousand connections closed, and again
            // while the tail of a wave is still closing (fewer open than at
            // the trim; steady traffic does not keep trimming).
            let open = connections.count
            let closed = connections.closedTotal
            var tailClosed = false
            if let check = recheck, now >= check.at {
                tailClosed = open < check.open
                recheck = nil
            }
            if closed - closedAtTrim >= trimAfterClosing || tailClosed {
                KernelShims.trimHeap()
                closedAtTrim = closed
                recheck = (now.advanced(by: trimRecheck), open)
            }
            if let check = recheck {
                next = min(next, check.at)
            }
            let wait = Duration.pollTimeout(next == .never ? nil : next.duration(since: now))
            var entries = [
                pollfd(fd: stop.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: hub.sweeperWake.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: hub.hangups.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            _ = entries.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), wait) }
            if entries[0].revents != 0 {
                return
            }
            if entries[1].revents != 0 {
                hub.sweeperWake.drain()
            }
            if entries[2].revents != 0 {
                hub.releaseHungUp()
            }
        }
    }
}
