import GeniddGeneration
import GeniddSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Every open connection: how many each peer holds, and by when an idle one
/// must have sent its next request's headers.
///
/// A peer (a uid on the Unix socket, an address on TCP) may hold at most
/// `perPeer` connections, and all peers together `total`. Beyond that a few
/// more connections per peer are accepted for probes only (`/healthz`,
/// `/readyz`, `/metrics`), with a short deadline; the rest are refused at
/// once. So one careless or hostile neighbour cannot starve the others, nor
/// the probes that keep genidd alive. A connection that does not finish its
/// request headers in time (slowloris) is shut down.
final class ConnectionTable: Sendable {
    struct Limits: Sendable {
        /// Connections admitted for ordinary requests, all peers together.
        var total: Int
        /// Connections admitted for ordinary requests, per peer.
        var perPeer: Int
        /// Probe-only connections per peer beyond its budget; more are refused.
        var probesOnlyPerPeer = 8
        /// How long a connection may take to send a request's headers (after
        /// it opened, or after its previous response).
        var headerTimeout: Duration
        /// The same, for probe-only connections.
        var probeHeaderTimeout = Duration.seconds(1)

        init(total: Int, perPeer: Int, headerTimeout: Duration) {
            self.total = total
            self.perPeer = perPeer
            self.headerTimeout = headerTimeout
        }
    }

    private struct Entry {
        let descriptor: Int32
        let peer: String
        let probesOnly: Bool
        /// When the next request's headers must be in; nil while a request runs.
        var deadline: MonotonicInstant?
    }

    private struct PeerCount {
        var admitted = 0
        var probesOnly = 0
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var peers: [String: PeerCount] = [:]
        var admitted = 0
        /// Requests between their headers and their end (SSE streams and long-polls included).
        var activeRequests = 0
    }

    let limits: Limits
    /// Header deadlines closer together than this are enforced in one pass.
    static let granularity = Duration.milliseconds(50)
    private let state = Mutex(State())
    /// When the sweeper plans to look at deadlines next (monotonic nanoseconds).
    private let plannedSweep = Atomic<UInt64>(.max)
    private let wake: WakeSignal
    /// Signalled when the last active request ends (``waitUntilNoRequests(timeout:)``).
    private let idle: WakeSignal

    /// - Parameter wake: the sweeper's wake-up, signalled when a deadline
    ///   comes sooner than it planned to look.
    init(limits: Limits, wake: WakeSignal) throws {
        self.limits = limits
        self.wake = wake
        idle = try WakeSignal()
    }

    /// Open connections.
    var count: Int { state.withLock { $0.entries.count } }

    /// Connections closed since the start (the sweeper returns memory after
    /// each thousand, however few were open at once).
    var closedTotal: Int { closes.load(ordering: .relaxed) }
    private let closes = Atomic<Int>(0)

    /// Admits `connection` (setting its `admission`), or returns false to refuse it.
    func open(_ connection: HTTPConnectionRecord) -> Bool {
        let now = MonotonicInstant.now
        let key = connection.peer.key
        let outcome = state.withLock { state -> (admitted: Bool, probesOnly: String?) in
            var counts = state.peers[key] ?? PeerCount()
            var probesOnly: String?
            if state.admitted >= limits.total {
                probesOnly = "too many open connections (limit \(limits.total))"
            } else if counts.admitted >= limits.perPeer {
                probesOnly = "too many connections from \(key) (limit \(limits.perPeer) per peer)"
            }
            if probesOnly != nil {
                guard counts.probesOnly < limits.probesOnlyPerPeer else { return (false, probesOnly) }
                counts.probesOnly += 1
            } else {
                counts.admitted += 1
                state.admitted += 1
            }
            state.peers[key] = counts
            let timeout = probesOnly == nil ? limits.headerTimeout : limits.probeHeaderTimeout
            state.entries[connection.id] = Entry(
                descriptor: connection.descriptor, peer: key, probesOnly: probesOnly != nil,
                deadline: now.advanced(by: timeout))
            return (true, probesOnly)
        }
        if let reason = outcome.probesOnly {
            connection.admission = .probesOnly(reason: reason)
        }
        if outcome.admitted {
            scheduleSweep(at: now.advanced(by: min(limits.headerTimeout, limits.probeHeaderTimeout)))
        }
        return outcome.admitted
    }

    /// Forgets a closed connection.
    func close(_ connection: HTTPConnectionRecord) {
        state.withLock { state in
            guard let entry = state.entries.removeValue(forKey: connection.id) else { return }
            closes.add(1, ordering: .relaxed)
            if entry.deadline == nil {
                endRequest(in: &state)
            }
            var counts = state.peers[entry.peer] ?? PeerCount()
            if entry.probesOnly {
                counts.probesOnly -= 1
            } else {
                counts.admitted -= 1
                state.admitted -= 1
            }
            state.peers[entry.peer] = counts.admitted == 0 && counts.probesOnly == 0 ? nil : counts
        }
    }

    /// A request's headers are in: no deadline while it runs.
    func requestBegan(on connection: HTTPConnectionRecord) {
        state.withLock { state in
            guard state.entries[connection.id]?.deadline != nil else { return }
            state.entries[connection.id]?.deadline = nil
            state.activeRequests += 1
        }
    }

    /// A request ended: the connection's next request must come in time.
    func requestEnded(on connection: HTTPConnectionRecord) {
        let now = MonotonicInstant.now
        let deadline = state.withLock { state -> MonotonicInstant? in
            guard let entry = state.entries[connection.id], entry.deadline == nil else { return nil }
            let timeout = entry.probesOnly ? limits.probeHeaderTimeout : limits.headerTimeout
            let deadline = now.advanced(by: timeout)
            state.entries[connection.id]?.deadline = deadline
            endRequest(in: &state)
            return deadline
        }
        if let deadline {
            scheduleSweep(at: deadline)
        }
    }

    /// Shuts down connections past their deadline (libmicrohttpd then closes
    /// them). Returns how many, and when to look again. Called by the sweeper.
    func expire(now: MonotonicInstant) -> (closed: Int, next: MonotonicInstant) {
        let result = state.withLock { state -> (Int, MonotonicInstant) in
            var closed = 0
            var next = MonotonicInstant.never
            for (id, entry) in state.entries {
                guard let deadline = entry.deadline else { continue }
                if deadline <= now {
                    // Under the lock: the descriptor stays open until `close`
                    // (libmicrohttpd notifies before it closes the socket).
                    shutdown(entry.descriptor, Int32(SHUT_RDWR))
                    state.entries[id]?.deadline = nil
                    closed += 1
                } else {
                    next = min(next, deadline)
                }
            }
            return (closed, next)
        }
        // Deadlines closer together than the granularity share one pass.
        let next = result.1 == .never ? .never : max(result.1, now.advanced(by: Self.granularity))
        plannedSweep.store(next.nanoseconds, ordering: .relaxed)
        return (result.0, next)
    }

    /// Waits until no request is active (every stream ended, every held
    /// request answered) or `timeout` passed; returns true in the first case.
    /// Used at shutdown, before libmicrohttpd may be stopped.
    func waitUntilNoRequests(timeout: Duration) -> Bool {
        let deadline = MonotonicInstant.now.advanced(by: timeout)
        while true {
            if state.withLock({ $0.activeRequests == 0 }) {
                return true
            }
            if MonotonicInstant.now >= deadline {
                return false
            }
            _ = MonotonicClock.sleep(until: deadline, unlessSignalled: idle)
            idle.drain()
        }
    }

    /// One request fewer; the last one wakes the shutdown wait. Call with the lock held.
    private func endRequest(in state: inout State) {
        state.activeRequests -= 1
        if state.activeRequests == 0 {
            idle.signal()
        }
    }

    /// Wakes the sweeper when `deadline` comes before it planned to look.
    private func scheduleSweep(at deadline: MonotonicInstant) {
        let planned = plannedSweep.load(ordering: .relaxed)
        if deadline.nanoseconds < planned {
            plannedSweep.store(deadline.nanoseconds, ordering: .relaxed)
            wake.signal()
        }
    }
}
