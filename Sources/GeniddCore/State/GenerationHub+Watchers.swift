/// The hub's side of watchers: registration, acknowledgements, and answering
/// orchestrators waiting until none is outdated. State lives in the hub's
/// `Shared`, under its one lock.
extension GenerationHub {
    /// Resumes `wait=outdated-zero` requests when no watcher is outdated. Call with the lock held.
    static func resumeWatchersWaiters(_ shared: inout Shared, resuming toResume: inout [HTTPConnection]) {
        guard let seq = shared.published?.state.seq, shared.watchers.outdatedCount(seq: seq) == 0 else { return }
        for (key, (request, _)) in shared.parked where request.parkedFor == .watchersCurrent {
            if let (_, connection) = unpark(key, in: &shared) {
                toResume.append(connection)
            }
        }
    }

    /// Registers (or refreshes) a watcher that polls instead of streaming.
    /// Returns its JSON and whether it was created, or nil when the registry is full.
    func registerWatcher(_ name: String) -> (json: JSONValue, created: Bool)? {
        let registered = shared.withLock { shared -> (json: JSONValue, created: Bool)? in
            let seq = shared.published?.state.seq ?? 0
            let touched = shared.watchers.touch(
                name, seq: seq, now: MonotonicClock.nanoseconds(), wallNow: MonotonicClock.wallMilliseconds())
            guard touched.accepted, let watcher = shared.watchers.watchers[name] else { return nil }
            return (WatcherRegistry.json(watcher, seq: seq), touched.created)
        }
        if registered != nil {
            watcherChanges.signal()
        }
        return registered
    }

    /// Records a watcher's acknowledgement of `seq`; answers waiting orchestrators
    /// when it was the last outdated watcher.
    func acknowledge(_ name: String, seq: UInt64) throws(WatcherRegistry.AcknowledgementError) -> JSONValue {
        var toResume: [HTTPConnection] = []
        let result = shared.withLock { shared -> Result<JSONValue, WatcherRegistry.AcknowledgementError> in
            let current = shared.published?.state.seq ?? 0
            do throws(WatcherRegistry.AcknowledgementError) {
                let watcher = try shared.watchers.acknowledge(
                    name, seq: seq, current: current, now: MonotonicClock.nanoseconds(),
                    wallNow: MonotonicClock.wallMilliseconds())
                Self.resumeWatchersWaiters(&shared, resuming: &toResume)
                return .success(WatcherRegistry.json(watcher, seq: current))
            } catch {
                return .failure(error)
            }
        }
        for connection in toResume { connection.resume() }
        watcherChanges.signal()
        return try result.get()
    }

    /// Removes a watcher; returns whether it existed.
    func removeWatcher(_ name: String) -> Bool {
        var toResume: [HTTPConnection] = []
        let removed = shared.withLock { shared -> Bool in
            let removed = shared.watchers.remove(name)
            Self.resumeWatchersWaiters(&shared, resuming: &toResume)
            return removed
        }
        for connection in toResume { connection.resume() }
        if removed {
            watcherChanges.signal()
        }
        return removed
    }

    /// The body of `GET /v1/watchers/NAME`, or nil when there is no such watcher.
    func watcherJSON(_ name: String) -> JSONValue? {
        shared.withLock { shared in
            shared.watchers.watchers[name].map { WatcherRegistry.json($0, seq: shared.published?.state.seq ?? 0) }
        }
    }

    /// The body of `GET /v1/watchers`.
    func watchersJSON() -> JSONValue {
        shared.withLock { shared in shared.watchers.json(seq: shared.published?.state.seq ?? 0) }
    }

    /// Watchers that have not acknowledged the current `seq`.
    public var outdatedWatcherCount: Int {
        shared.withLock { shared in shared.watchers.outdatedCount(seq: shared.published?.state.seq ?? 0) }
    }

    /// How often the registry changed in ways worth saving, and how often a
    /// watcher merely showed a sign of life.
    public var watcherRevisions: (revision: UInt64, touches: UInt64) {
        shared.withLock { ($0.watchers.revision, $0.watchers.touches) }
    }

    /// The registry as it should be saved, with the instance its `seq` values
    /// refer to; nil before the first state is published.
    public func watcherFile(bootID: String) -> WatcherFile? {
        let copy = shared.withLock { shared -> (WatcherRegistry, String)? in
            shared.published.map { (shared.watchers, $0.state.instance) }
        }
        guard let (registry, instance) = copy else { return nil }
        return WatcherFile(
            bootID: bootID, instance: instance, watchers: registry.watchers.values.sorted { $0.name < $1.name },
            expired: registry.expired)
    }

    /// Puts back the watchers an earlier run saved (same boot). Returns how many.
    @discardableResult
    public func restoreWatchers(from file: WatcherFile) -> Int {
        shared.withLock { shared in
            let sameInstance = shared.published?.state.instance == file.instance
            shared.watchers.restore(file.watchers, expired: file.expired, sameInstance: sameInstance)
            return shared.watchers.watchers.count
        }
    }
}
