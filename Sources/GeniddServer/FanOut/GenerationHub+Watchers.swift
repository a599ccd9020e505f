import GeniddGeneration
import GeniddSystem

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

    /// Registers (or, for its owner, refreshes) a watcher that polls instead
    /// of streaming. Returns its JSON and how it was touched.
    func registerWatcher(_ name: String, claim: WatcherClaim) throws(WatcherRegistry.Refusal) -> (
        json: JSONValue, touched: WatcherRegistry.Touched
    ) {
        let registered = shared.withLock {
            shared -> Result<(json: JSONValue, touched: WatcherRegistry.Touched), WatcherRegistry.Refusal> in
            let seq = shared.published?.state.seq ?? 0
            do throws(WatcherRegistry.Refusal) {
                let touched = try shared.watchers.touch(
                    name, seq: seq, claim: claim, now: .now,
                    wallNow: MonotonicClock.wallMilliseconds())
                guard let watcher = shared.watchers.watchers[name] else { return .failure(.full) }
                return .success((WatcherRegistry.json(watcher, seq: seq), touched))
            } catch {
                return .failure(error)
            }
        }
        let result = try registered.get()
        watcherChanges.signal()
        return result
    }

    /// Records a watcher's acknowledgement of `seq` (by its owner); answers
    /// waiting orchestrators when it was the last outdated watcher.
    func acknowledge(_ name: String, seq: UInt64, claim: WatcherClaim) throws(WatcherRegistry.AcknowledgementError)
        -> JSONValue
    {
        var toResume: [HTTPConnection] = []
        let result = shared.withLock { shared -> Result<JSONValue, WatcherRegistry.AcknowledgementError> in
            let current = shared.published?.state.seq ?? 0
            do throws(WatcherRegistry.AcknowledgementError) {
                let watcher = try shared.watchers.acknowledge(
                    name, seq: seq, current: current, claim: claim, now: .now,
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

    /// Removes a watcher (for its owner or an admin).
    func removeWatcher(_ name: String, claim: WatcherClaim) throws(WatcherRegistry.AcknowledgementError) {
        var toResume: [HTTPConnection] = []
        let result = shared.withLock { shared -> Result<Void, WatcherRegistry.AcknowledgementError> in
            do throws(WatcherRegistry.AcknowledgementError) {
                try shared.watchers.remove(name, claim: claim)
                Self.resumeWatchersWaiters(&shared, resuming: &toResume)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        for connection in toResume { connection.resume() }
        try result.get()
        watcherChanges.signal()
    }

    /// The body of `GET /v1/watchers/NAME`, or nil when there is no such watcher.
    func watcherJSON(_ name: String) -> JSONValue? {
        let found = shared.withLock { shared in
            shared.watchers.watchers[name].map { ($0, shared.published?.state.seq ?? 0) }
        }
        return found.map { WatcherRegistry.json($0.0, seq: $0.1) }
    }

    /// A page of `GET /v1/watchers`: up to `limit` watchers after `after`, by
    /// name. Only the page is copied under the lock; the JSON is built after.
    func watchersJSON(after: String? = nil, limit: Int = WatcherRegistry.defaultPageSize) -> JSONValue {
        let (page, more, seq, outdated, expired) = shared.withLock { shared in
            let seq = shared.published?.state.seq ?? 0
            let page = shared.watchers.page(after: after, limit: limit)
            return (page.watchers, page.more, seq, shared.watchers.outdatedCount(seq: seq), shared.watchers.expired)
        }
        return .object([
            ("seq", .uint(seq)), ("outdated", .int(Int64(outdated))),
            ("watchers", .array(page.map { WatcherRegistry.json($0, seq: seq) })),
            ("next_after", more ? page.last.map { .string($0.name) } ?? .null : .null),
            ("expired", .array(expired.map(WatcherRegistry.json))),
        ])
    }

    /// Watchers that have not acknowledged the current `seq`.
    var outdatedWatcherCount: Int {
        shared.withLock { shared in shared.watchers.outdatedCount(seq: shared.published?.state.seq ?? 0) }
    }

    /// How often the registry changed in ways worth saving, and how often a
    /// watcher merely showed a sign of life.
    var watcherRevisions: (revision: UInt64, touches: UInt64) {
        shared.withLock { ($0.watchers.revision, $0.watchers.touches) }
    }

    /// The registry as it should be saved, with the instance its `seq` values
    /// refer to; nil before the first state is published.
    func watcherFile(bootID: String) -> WatcherFile? {
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
    func restoreWatchers(from file: WatcherFile) -> Int {
        shared.withLock { shared in
            let sameInstance = shared.published?.state.instance == file.instance
            shared.watchers.restore(file.watchers, expired: file.expired, sameInstance: sameInstance)
            return shared.watchers.watchers.count
        }
    }
}
