import GeniddSystem

/// `watchers.json` in the state directory: the watcher registry as a
/// restart finds it, so that an orchestrator's `wait=outdated-zero` keeps
/// waiting for watchers registered before genidd restarted.
///
/// Valid only within one boot (the monotonic times of last sightings are
/// kept as they are) and tagged with the instance whose `seq` values the
/// acknowledgements refer to.
public struct WatcherFile: Sendable, Equatable {
    public var bootID: String
    public var instance: String
    public var watchers: [WatcherRegistry.Watcher]
    public var expired: [WatcherRegistry.Expiry]

    public init(
        bootID: String, instance: String, watchers: [WatcherRegistry.Watcher], expired: [WatcherRegistry.Expiry]
    ) {
        self.bootID = bootID
        self.instance = instance
        self.watchers = watchers
        self.expired = expired
    }

    /// The file's name in the state directory.
    public static let name = "watchers.json"
    /// Largest file accepted: about 200 bytes per watcher at the registry's limit.
    public static let sizeLimit = 4 << 20

    /// The document written to disk.
    public var json: JSONValue {
        .object([
            ("version", .int(1)),
            ("boot_id", .string(bootID)),
            ("instance", .string(instance)),
            (
                "watchers",
                .array(
                    watchers.map { watcher in
                        .object([
                            ("name", .string(watcher.name)),
                            ("acked_seq", watcher.acknowledgedSeq.map { .uint($0) } ?? .null),
                            ("registered_at_ms", .int(watcher.registeredAtMilliseconds)),
                            ("last_seen_ms", .int(watcher.lastSeenMilliseconds)),
                            ("last_seen_monotonic_ns", .uint(watcher.lastSeenMonotonic.nanoseconds)),
                            ("owner_uid", watcher.owner.uid.map { .uint(UInt64($0)) } ?? .null),
                            (
                                "owner_secret",
                                watcher.owner.secret.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null
                            ),
                            ("owner_peer", .string(watcher.owner.peer)),
                        ])
                    })
            ),
            (
                "expired",
                .array(
                    expired.map { expiry in
                        .object([
                            ("name", .string(expiry.name)),
                            ("acked_seq", expiry.acknowledgedSeq.map { .uint($0) } ?? .null),
                            ("expired_at_ms", .int(expiry.expiredAtMilliseconds)),
                        ])
                    })
            ),
        ])
    }

    /// Parses and checks a saved file; throws a message naming what is wrong.
    public init(parsing bytes: [UInt8]) throws(WatcherFileError) {
        guard let value = try? JSONCodec.decode(bytes), let bootID = value["boot_id"]?.stringValue,
            let instance = value["instance"]?.stringValue, StateTag.isValidInstance(instance),
            case .array(let list)? = value["watchers"], case .array(let gone)? = value["expired"]
        else {
            throw WatcherFileError("not a genidd watcher file")
        }
        var watchers: [WatcherRegistry.Watcher] = []
        for entry in list {
            guard let name = entry["name"]?.stringValue, WatcherName.isValid(name),
                let acknowledged = Self.optionalSeq(entry["acked_seq"]),
                let registered = Self.time(entry["registered_at_ms"]), let seen = Self.time(entry["last_seen_ms"]),
                let monotonic = entry["last_seen_monotonic_ns"]?.uint64Value, monotonic < UInt64(Int64.max),
                let owner = Self.owner(entry)
            else {
                throw WatcherFileError("a watcher entry is malformed")
            }
            watchers.append(
                WatcherRegistry.Watcher(
                    name: name, acknowledgedSeq: acknowledged, registeredAtMilliseconds: registered,
                    lastSeenMilliseconds: seen, lastSeenMonotonic: MonotonicInstant(nanoseconds: monotonic),
                    connectedStreams: 0, owner: owner))
        }
        var expired: [WatcherRegistry.Expiry] = []
        for entry in gone {
            guard let name = entry["name"]?.stringValue, WatcherName.isValid(name),
                let acknowledged = Self.optionalSeq(entry["acked_seq"]), let at = Self.time(entry["expired_at_ms"])
            else {
                throw WatcherFileError("an expired entry is malformed")
            }
            expired.append(WatcherRegistry.Expiry(name: name, acknowledgedSeq: acknowledged, expiredAtMilliseconds: at))
        }
        self.init(bootID: bootID, instance: instance, watchers: watchers, expired: expired)
    }

    /// The owner of a saved watcher: a uid, a secret, or both, and the creating peer.
    private static func owner(_ entry: JSONValue) -> WatcherOwner? {
        guard let peer = entry["owner_peer"]?.stringValue, (1...128).contains(peer.utf8.count) else { return nil }
        var uid: UInt32?
        if let value = entry["owner_uid"], !value.isNull {
            guard let number = value.uint64Value, number <= UInt64(UInt32.max) else { return nil }
            uid = UInt32(number)
        }
        var secret: [UInt8]?
        if let value = entry["owner_secret"], !value.isNull {
            guard let text = value.stringValue, WatcherName.isValidSecret(Array(text.utf8)) else { return nil }
            secret = Array(text.utf8)
        }
        guard uid != nil || secret != nil else { return nil }
        return WatcherOwner(uid: uid, secret: secret, peer: peer)
    }

    /// `.some(seq)` or `.some(nil)` for null; nil when the value is neither.
    private static func optionalSeq(_ value: JSONValue?) -> UInt64?? {
        guard let value else { return nil }
        if value.isNull { return .some(nil) }
        guard let seq = value.uint64Value, seq <= GenerationState.maximumSeq else { return nil }
        return .some(seq)
    }

    /// Wall-clock milliseconds in the range genidd can print.
    private static func time(_ value: JSONValue?) -> Int64? {
        guard let milliseconds = value?.int64Value, (0...Timestamp.latestMilliseconds).contains(milliseconds) else {
            return nil
        }
        return milliseconds
    }
}

/// A `watchers.json` that genidd will not use.
public struct WatcherFileError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
