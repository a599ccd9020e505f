import GeniddSystem

/// Named subscribers that acknowledge generations, as sysgenid watchers do.
///
/// A watcher is *outdated* while the `seq` it last acknowledged differs from
/// the current one. Orchestrators wait until none is outdated before putting
/// a restored VM back into service. Watchers that are neither connected nor
/// seen for `expiry` are expired, and the expiry is kept visible.
/// Each watcher has an owner (``WatcherOwner``); only the owner or an admin
/// may refresh, acknowledge or delete it, and each owner may hold a bounded
/// number of them.
public struct WatcherRegistry: Sendable {
    public struct Watcher: Sendable, Equatable {
        public var name: String
        /// The last `seq` it handled, or nil when it has acknowledged nothing
        /// in the current instance (restored from another series).
        var acknowledgedSeq: UInt64?
        var registeredAtMilliseconds: Int64
        var lastSeenMilliseconds: Int64
        /// Monotonic time of the last sign of life, for expiry.
        var lastSeenMonotonic: MonotonicInstant
        /// Open SSE streams subscribed under this name.
        var connectedStreams: Int
        var owner: WatcherOwner
    }

    public struct Expiry: Sendable, Equatable {
        public var name: String
        public var acknowledgedSeq: UInt64?
        var expiredAtMilliseconds: Int64
    }

    /// Why a watcher could not be registered or refreshed.
    public enum Refusal: Error, Equatable {
        /// The registry holds its limit of watchers.
        case full
        /// The creating peer holds its limit of watchers.
        case ownerLimit(peer: String, limit: Int)
        /// It exists and belongs to someone else.
        case notOwner(owner: String)
    }

    /// Why an acknowledgement or a removal was refused.
    public enum AcknowledgementError: Error, Equatable {
        case unknownWatcher
        case notOwner(owner: String)
        case stale(acknowledged: UInt64, current: UInt64)
        case future(acknowledged: UInt64, current: UInt64)
    }

    /// How `touch` went.
    public enum Touched: Equatable {
        /// A new watcher; `secret` is the one genidd made up for a creator that brought none.
        case created(secret: [UInt8]?)
        case refreshed
    }

    public private(set) var watchers: [String: Watcher] = [:]
    /// Every name, sorted, for pages of the list.
    private var sortedNames: [String] = []
    /// Watchers per creating peer.
    private var perPeer: [String: Int] = [:]
    /// The most recent expiries, newest last.
    public private(set) var expired: [Expiry] = []
    let expiry: Duration
    let limit: Int
    let perOwnerLimit: Int
    static let expiriesKept = 100
    /// Watchers per page of `GET /v1/watchers`, by default and at most.
    public static let defaultPageSize = 500
    public static let maximumPageSize = 1000

    /// Bumped by every change worth saving (a watcher added, removed,
    /// acknowledging or expiring); `touches` by mere signs of life.
    public private(set) var revision: UInt64 = 0
    public private(set) var touches: UInt64 = 0

    public init(expiry: Duration, limit: Int = 10_000, perOwnerLimit: Int = 100) {
        self.expiry = expiry
        self.limit = limit
        self.perOwnerLimit = perOwnerLimit
    }

    /// Puts back watchers saved by an earlier run (same boot). Their streams
    /// are gone; from another instance, their acknowledgements mean nothing.
    public mutating func restore(_ saved: [Watcher], expired savedExpiries: [Expiry], sameInstance: Bool) {
        for var watcher in saved where WatcherName.isValid(watcher.name) && watchers.count < limit {
            watcher.connectedStreams = 0
            if !sameInstance {
                watcher.acknowledgedSeq = nil
            }
            insert(watcher)
        }
        expired = Array(savedExpiries.suffix(Self.expiriesKept))
        revision &+= 1
    }

    /// Registers `name` (up to date at `seq`, owned by the claimant) or, for
    /// its owner, refreshes it.
    public mutating func touch(
        _ name: String, seq: UInt64, claim: WatcherClaim, now: MonotonicInstant, wallNow: Int64,
        connecting: Bool = false
    ) throws(Refusal) -> Touched {
        if var watcher = watchers[name] {
            guard watcher.owner.accepts(claim) else { throw .notOwner(owner: watcher.owner.description) }
            watcher.lastSeenMonotonic = now
            watcher.lastSeenMilliseconds = wallNow
            if connecting { watcher.connectedStreams += 1 }
            watchers[name] = watcher
            touches &+= 1
            return .refreshed
        }
        guard watchers.count < limit else { throw .full }
        guard (perPeer[claim.peer] ?? 0) < perOwnerLimit else {
            throw .ownerLimit(peer: claim.peer, limit: perOwnerLimit)
        }
        // A creator with no uid to vouch for it and no secret of its own gets one.
        var made: [UInt8]?
        var secret = claim.secret
        if claim.uid == nil && secret == nil {
            made = Array(RandomBytes.hex(count: 16).utf8)
            secret = made
        }
        insert(
            Watcher(
                name: name, acknowledgedSeq: seq, registeredAtMilliseconds: wallNow, lastSeenMilliseconds: wallNow,
                lastSeenMonotonic: now, connectedStreams: connecting ? 1 : 0,
                owner: WatcherOwner(uid: claim.uid, secret: secret, peer: claim.peer)))
        expired.removeAll { $0.name == name }
        revision &+= 1
        return .created(secret: made)
    }

    /// An SSE stream of `name` ended.
    public mutating func disconnected(_ name: String, now: MonotonicInstant, wallNow: Int64) {
        guard var watcher = watchers[name] else { return }
        watcher.connectedStreams = max(0, watcher.connectedStreams - 1)
        watcher.lastSeenMonotonic = now
        watcher.lastSeenMilliseconds = wallNow
        watchers[name] = watcher
        touches &+= 1
    }

    /// Records that `name` handled `seq`, which must be the current one.
    public mutating func acknowledge(
        _ name: String, seq: UInt64, current: UInt64, claim: WatcherClaim, now: MonotonicInstant, wallNow: Int64
    ) throws(AcknowledgementError) -> Watcher {
        guard var watcher = watchers[name] else { throw .unknownWatcher }
        guard watcher.owner.accepts(claim) else { throw .notOwner(owner: watcher.owner.description) }
        if seq < current { throw .stale(acknowledged: seq, current: current) }
        if seq > current { throw .future(acknowledged: seq, current: current) }
        watcher.acknowledgedSeq = seq
        watcher.lastSeenMonotonic = now
        watcher.lastSeenMilliseconds = wallNow
        watchers[name] = watcher
        revision &+= 1
        return watcher
    }

    /// Removes `name` for its owner (or an admin).
    public mutating func remove(_ name: String, claim: WatcherClaim) throws(AcknowledgementError) {
        guard let watcher = watchers[name] else { throw .unknownWatcher }
        guard watcher.owner.accepts(claim) else { throw .notOwner(owner: watcher.owner.description) }
        delete(name)
        revision &+= 1
    }

    /// Watchers that have not acknowledged `seq`.
    public func outdatedCount(seq: UInt64) -> Int {
        watchers.values.reduce(0) { $0 + ($1.acknowledgedSeq == seq ? 0 : 1) }
    }

    /// Expires watchers with no stream and no sign of life for the expiry
    /// time; returns them. Also returns when the next one could expire.
    public mutating func expire(now: MonotonicInstant, wallNow: Int64) -> (expired: [Expiry], next: MonotonicInstant) {
        var gone: [Expiry] = []
        var next = MonotonicInstant.never
        for watcher in watchers.values where watcher.connectedStreams == 0 {
            let deadline = watcher.lastSeenMonotonic.advanced(by: expiry)
            if deadline <= now {
                gone.append(
                    Expiry(name: watcher.name, acknowledgedSeq: watcher.acknowledgedSeq, expiredAtMilliseconds: wallNow)
                )
                delete(watcher.name)
            } else {
                next = min(next, deadline)
            }
        }
        if !gone.isEmpty {
            revision &+= 1
        }
        expired.append(contentsOf: gone)
        if expired.count > Self.expiriesKept {
            expired.removeFirst(expired.count - Self.expiriesKept)
        }
        return (gone, next)
    }

    /// Up to `limit` watchers whose names sort after `after`, and whether more follow.
    public func page(after: String?, limit: Int) -> (watchers: [Watcher], more: Bool) {
        var start = 0
        if let after {
            // Binary search for the first name greater than `after`.
            var low = 0
            var high = sortedNames.count
            while low < high {
                let middle = (low + high) / 2
                if sortedNames[middle] <= after { low = middle + 1 } else { high = middle }
            }
            start = low
        }
        let end = min(sortedNames.count, start + limit)
        return (sortedNames[start..<end].compactMap { watchers[$0] }, end < sortedNames.count)
    }

    private mutating func insert(_ watcher: Watcher) {
        if watchers.updateValue(watcher, forKey: watcher.name) == nil {
            var low = 0
            var high = sortedNames.count
            while low < high {
                let middle = (low + high) / 2
                if sortedNames[middle] < watcher.name { low = middle + 1 } else { high = middle }
            }
            sortedNames.insert(watcher.name, at: low)
            perPeer[watcher.owner.peer, default: 0] += 1
        }
    }

    private mutating func delete(_ name: String) {
        guard let watcher = watchers.removeValue(forKey: name) else { return }
        if let index = sortedNames.firstIndex(of: name) {
            sortedNames.remove(at: index)
        }
        let remaining = (perPeer[watcher.owner.peer] ?? 1) - 1
        perPeer[watcher.owner.peer] = remaining > 0 ? remaining : nil
    }

    /// The JSON of one watcher.
    public static func json(_ watcher: Watcher, seq: UInt64) -> JSONValue {
        .object([
            ("name", .string(watcher.name)),
            ("acked_seq", watcher.acknowledgedSeq.map { .uint($0) } ?? .null),
            ("outdated", .bool(watcher.acknowledgedSeq != seq)),
            ("connected", .bool(watcher.connectedStreams > 0)),
            ("last_seen", .string(Timestamp.rfc3339(milliseconds: watcher.lastSeenMilliseconds))),
            ("registered_at", .string(Timestamp.rfc3339(milliseconds: watcher.registeredAtMilliseconds))),
        ])
    }

    /// The JSON of one expiry.
    public static func json(_ expiry: Expiry) -> JSONValue {
        .object([
            ("name", .string(expiry.name)), ("acked_seq", expiry.acknowledgedSeq.map { .uint($0) } ?? .null),
            ("expired_at", .string(Timestamp.rfc3339(milliseconds: expiry.expiredAtMilliseconds))),
        ])
    }
}
