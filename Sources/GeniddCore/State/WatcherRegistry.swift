/// Named subscribers that acknowledge generations, as sysgenid watchers do.
///
/// A watcher is *outdated* while the `seq` it last acknowledged differs from
/// the current one. Orchestrators wait until none is outdated before putting
/// a restored VM back into service. Watchers that are neither connected nor
/// seen for `expiryMilliseconds` are expired, and the expiry is kept visible.
public struct WatcherRegistry: Sendable {
    public struct Watcher: Sendable, Equatable {
        public var name: String
        /// The last `seq` it handled, or nil when it has acknowledged nothing
        /// in the current instance (restored from another series).
        public var acknowledgedSeq: UInt64?
        public var registeredAtMilliseconds: Int64
        public var lastSeenMilliseconds: Int64
        /// Monotonic time of the last sign of life, for expiry.
        public var lastSeenMonotonic: UInt64
        /// Open SSE streams subscribed under this name.
        public var connectedStreams: Int
    }

    public struct Expiry: Sendable, Equatable {
        public var name: String
        public var acknowledgedSeq: UInt64?
        public var expiredAtMilliseconds: Int64
    }

    /// Why an acknowledgement was refused (409).
    public enum AcknowledgementError: Error, Equatable {
        case unknownWatcher
        case stale(acknowledged: UInt64, current: UInt64)
        case future(acknowledged: UInt64, current: UInt64)
    }

    public private(set) var watchers: [String: Watcher] = [:]
    /// The most recent expiries, newest last.
    public private(set) var expired: [Expiry] = []
    public let expiryMilliseconds: Int
    public let limit: Int
    static let expiriesKept = 100

    /// Bumped by every change worth saving (a watcher added, removed,
    /// acknowledging or expiring); `touches` by mere signs of life.
    public private(set) var revision: UInt64 = 0
    public private(set) var touches: UInt64 = 0

    public init(expiryMilliseconds: Int, limit: Int = 10_000) {
        self.expiryMilliseconds = expiryMilliseconds
        self.limit = limit
    }

    /// Puts back watchers saved by an earlier run (same boot). Their streams
    /// are gone; from another instance, their acknowledgements mean nothing.
    public mutating func restore(_ saved: [Watcher], expired savedExpiries: [Expiry], sameInstance: Bool) {
        for var watcher in saved.prefix(limit) where Self.isValidName(watcher.name) {
            watcher.connectedStreams = 0
            if !sameInstance {
                watcher.acknowledgedSeq = nil
            }
            watchers[watcher.name] = watcher
        }
        expired = Array(savedExpiries.suffix(Self.expiriesKept))
        revision &+= 1
    }

    /// Watcher names: 1–64 of `A-Z a-z 0-9 . _ -`, not starting with a dot.
    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
                || byte == 0x2e || byte == 0x5f || byte == 0x2d
        }
    }

    /// Registers `name` (up to date at `seq`) or refreshes it. Returns false
    /// when the registry is full. `created` tells whether it was new.
    public mutating func touch(
        _ name: String, seq: UInt64, now: UInt64, wallNow: Int64, connecting: Bool = false
    ) -> (accepted: Bool, created: Bool) {
        if var watcher = watchers[name] {
            watcher.lastSeenMonotonic = now
            watcher.lastSeenMilliseconds = wallNow
            if connecting { watcher.connectedStreams += 1 }
            watchers[name] = watcher
            touches &+= 1
            return (true, false)
        }
        guard watchers.count < limit else { return (false, false) }
        watchers[name] = Watcher(
            name: name, acknowledgedSeq: seq, registeredAtMilliseconds: wallNow, lastSeenMilliseconds: wallNow,
            lastSeenMonotonic: now, connectedStreams: connecting ? 1 : 0)
        expired.removeAll { $0.name == name }
        revision &+= 1
        return (true, true)
    }

    /// An SSE stream of `name` ended.
    public mutating func disconnected(_ name: String, now: UInt64, wallNow: Int64) {
        guard var watcher = watchers[name] else { return }
        watcher.connectedStreams = max(0, watcher.connectedStreams - 1)
        watcher.lastSeenMonotonic = now
        watcher.lastSeenMilliseconds = wallNow
        watchers[name] = watcher
        touches &+= 1
    }

    /// Records that `name` handled `seq`, which must be the current one.
    public mutating func acknowledge(
        _ name: String, seq: UInt64, current: UInt64, now: UInt64, wallNow: Int64
    ) throws(AcknowledgementError) -> Watcher {
        guard var watcher = watchers[name] else { throw .unknownWatcher }
        if seq < current { throw .stale(acknowledged: seq, current: current) }
        if seq > current { throw .future(acknowledged: seq, current: current) }
        watcher.acknowledgedSeq = seq
        watcher.lastSeenMonotonic = now
        watcher.lastSeenMilliseconds = wallNow
        watchers[name] = watcher
        revision &+= 1
        return watcher
    }

    /// Removes `name`; returns whether it existed.
    public mutating func remove(_ name: String) -> Bool {
        guard watchers.removeValue(forKey: name) != nil else { return false }
        revision &+= 1
        return true
    }

    /// Watchers that have not acknowledged `seq`.
    public func outdatedCount(seq: UInt64) -> Int {
        watchers.values.reduce(0) { $0 + ($1.acknowledgedSeq == seq ? 0 : 1) }
    }

    /// Expires watchers with no stream and no sign of life for the expiry
    /// time; returns them. Also returns when the next one could expire.
    public mutating func expire(now: UInt64, wallNow: Int64) -> (expired: [Expiry], next: UInt64) {
        let window = UInt64(expiryMilliseconds) * 1_000_000
        var gone: [Expiry] = []
        var next = UInt64.max
        for watcher in watchers.values where watcher.connectedStreams == 0 {
            let deadline = watcher.lastSeenMonotonic + window
            if deadline <= now {
                gone.append(
                    Expiry(name: watcher.name, acknowledgedSeq: watcher.acknowledgedSeq, expiredAtMilliseconds: wallNow)
                )
                watchers[watcher.name] = nil
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

    /// The body of `GET /v1/watchers`.
    public func json(seq: UInt64) -> JSONValue {
        let list = watchers.values.sorted { $0.name < $1.name }.map { Self.json($0, seq: seq) }
        let gone = expired.map { expiry in
            JSONValue.object([
                ("name", .string(expiry.name)), ("acked_seq", expiry.acknowledgedSeq.map { .uint($0) } ?? .null),
                ("expired_at", .string(Timestamp.rfc3339(milliseconds: expiry.expiredAtMilliseconds))),
            ])
        }
        return .object([
            ("seq", .uint(seq)), ("outdated", .int(Int64(outdatedCount(seq: seq)))), ("watchers", .array(list)),
            ("expired", .array(gone)),
        ])
    }
}
