import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// What genidd keeps across its own restarts within one boot, so that `seq`
/// never goes backwards for clients.
struct PersistedState: Sendable, Equatable {
    var bootID: String
    var instance: String
    var seq: UInt64
    var generation: UInt64
    var source: String
    /// The source's own resume point (for `kmsg`: the last record sequence number read).
    var cursor: String?
    var changedAtMilliseconds: Int64
    var uuidHash: String?
    /// The random id of this `seq` (``GenerationState/generationID``).
    var generationID: String
}

/// The state directory (default `/run/genidd`): `state.json`, written
/// write-ahead (durably, before clients see a new `seq`), and `lock`, held
/// with `flock` so that two daemons never share one directory.
///
/// A saved state is trusted only while it is known good: when a save fails,
/// the file is removed, so that a restart begins a new instance instead of
/// numbering again from an older `seq`.
public final class StateStore: @unchecked Sendable {
    // Unchecked: `save` and `invalidate` are called only from the source
    // thread (and the main thread before it starts); the rest is immutable.
    public let directory: String
    private let lock: OwnedDescriptor
    var statePath: String { directory + "/state.json" }

    /// What `load()` found.
    enum Loaded: Sendable, Equatable {
        /// No saved state.
        case absent
        /// A saved state that passed every check.
        case restored(PersistedState)
        /// A state file genidd will not trust, and why.
        case rejected(String)
    }

    /// Creates the directory if needed and takes its lock.
    public init(directory: String) throws {
        self.directory = directory
        try Self.makeDirectories(directory)
        let lockPath = directory + "/lock"
        do {
            lock = try FileIO.openRegularFile(lockPath, flags: O_RDWR | O_CREAT | O_NOFOLLOW)
        } catch let error as FileIOError {
            throw ConfigurationError("state directory: \(error); remove it")
        }
        if flock(lock.raw, LOCK_EX | LOCK_NB) != 0 {
            if errno == EWOULDBLOCK {
                throw StateStoreError.inUse(directory: directory)
            }
            throw SystemError("flock", path: lockPath)
        }
    }

    /// The saved state. Throws only when `state.json` is not a regular file
    /// (genidd refuses to start rather than guess); an unreadable, malformed
    /// or implausible file is `.rejected`.
    func load() throws -> Loaded {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readSmallFile(statePath, limit: 65536)
        } catch let error as SystemError where error.code == ENOENT {
            return .absent
        } catch let error as FileIOError {
            if case .notRegularFile = error {
                throw ConfigurationError("state directory: \(error); remove it")
            }
            return .rejected("\(error)")
        } catch {
            return .rejected("\(error)")
        }
        guard let value = try? JSONCodec.decode(bytes),
            let bootID = value["boot_id"]?.stringValue,
            let instance = value["instance"]?.stringValue,
            let seq = value["seq"]?.uint64Value,
            let generation = value["generation"]?.uint64Value,
            let source = value["source"]?.stringValue,
            let changedAt = value["changed_at_ms"]?.int64Value
        else {
            return .rejected("\(statePath): not a genidd state file")
        }
        let generationID: String
        switch value["generation_id"] {
        case .string(let saved)?:
            generationID = saved
        case nil:
            // Written by a genidd before generation_id: the series goes on
            // under a fresh id (no client has seen one for it).
            generationID = GenerationState.newGenerationID()
        default:
            return .rejected("\(statePath): generation_id is not a string")
        }
        let state = PersistedState(
            bootID: bootID, instance: instance, seq: seq, generation: generation, source: source,
            cursor: value["cursor"]?.stringValue, changedAtMilliseconds: changedAt,
            uuidHash: value["uuid_hash"]?.stringValue, generationID: generationID)
        if let problem = Self.implausibility(of: state) {
            return .rejected("\(statePath): \(problem)")
        }
        return .restored(state)
    }

    /// Writes the state atomically. With `durable` (every new `seq`) the data
    /// and the rename are on disk when this returns.
    func save(_ state: PersistedState, durable: Bool = true) throws {
        let document = JSONValue.object([
            ("version", .int(1)),
            ("boot_id", .string(state.bootID)),
            ("instance", .string(state.instance)),
            ("seq", .uint(state.seq)),
            ("generation", .uint(state.generation)),
            ("source", .string(state.source)),
            ("cursor", state.cursor.map { .string($0) } ?? .null),
            ("changed_at_ms", .int(state.changedAtMilliseconds)),
            ("uuid_hash", state.uuidHash.map { .string($0) } ?? .null),
            ("generation_id", .string(state.generationID)),
        ])
        try FileIO.writeAtomically(
            statePath, contents: Array((JSONCodec.encode(document) + "\n").utf8), durable: durable)
    }

    /// Removes the saved state after a failed save, so that a restart cannot
    /// resume from an older `seq`. Throws when even that fails.
    func invalidate() throws {
        if unlink(statePath) != 0 && errno != ENOENT {
            throw SystemError("unlink", path: statePath)
        }
        try FileIO.syncDirectory(of: statePath)
    }

    /// Why a loaded state cannot be trusted, or nil. Its strings reach ETags,
    /// SSE `id` lines and JSON, and its numbers reach arithmetic.
    static func implausibility(of state: PersistedState) -> String? {
        if !StateTag.isValidInstance(state.instance) {
            return "instance is not 1-64 letters, digits, '-' or '_'"
        }
        if state.seq > GenerationState.maximumSeq {
            return "seq \(state.seq) is beyond \(GenerationState.maximumSeq) (exhausted or corrupt)"
        }
        if !(0...Timestamp.latestMilliseconds).contains(state.changedAtMilliseconds) {
            return "changed_at_ms \(state.changedAtMilliseconds) is not a plausible time"
        }
        if state.source.isEmpty || state.source.utf8.count > 4096 {
            return "source is empty or too long"
        }
        if let cursor = state.cursor, cursor.isEmpty || cursor.utf8.count > 64 {
            return "cursor is empty or too long"
        }
        if let hash = state.uuidHash, !UUIDHasher.isValidHash(hash) {
            return "uuid_hash is not sha256: and 64 hex digits"
        }
        if !GenerationState.isValidGenerationID(state.generationID) {
            return "generation_id is not 32 lowercase hex digits"
        }
        return nil
    }

    /// The kernel's boot id: a new random UUID on every boot.
    public static func currentBootID(path: String = "/proc/sys/kernel/random/boot_id") -> String {
        guard let bytes = try? FileIO.readSmallFile(path, limit: 64) else { return "unknown" }
        return String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    }

    private static func makeDirectories(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw SystemError("mkdir", path: prefix)
            }
        }
        var info = stat()
        try SystemError.check(stat(path, &info), "stat", path: path)
        if (info.st_mode & S_IFMT) != S_IFDIR {
            throw SystemError("mkdir", path: path, code: ENOTDIR)
        }
    }
}

/// A state directory genidd cannot use.
enum StateStoreError: Error, CustomStringConvertible, Sendable {
    case inUse(directory: String)

    var description: String {
        switch self {
        case .inUse(let directory):
            return "\(directory): another genidd is using this state directory (its lock is held)"
        }
    }
}
