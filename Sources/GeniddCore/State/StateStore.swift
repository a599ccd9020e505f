#if canImport(Glibc)
    import Glibc
#endif

/// What genidd keeps across its own restarts within one boot, so that `seq`
/// never goes backwards for clients.
public struct PersistedState: Sendable, Equatable {
    public var bootID: String
    public var instance: String
    public var seq: UInt64
    public var generation: UInt64
    public var source: String
    /// The source's own resume point (for `kmsg`: the last record sequence number read).
    public var cursor: String?
    public var changedAtMilliseconds: Int64
    public var uuidHash: String?
}

/// The state directory (default `/run/genidd`): `state.json`, written
/// atomically on every change, and `lock`, held with `flock` so that two
/// daemons never share one directory.
public final class StateStore: @unchecked Sendable {
    // Unchecked: `save` is called only from the source thread; the rest is immutable.
    public let directory: String
    private let lockDescriptor: Int32
    private var statePath: String { directory + "/state.json" }

    /// Creates the directory if needed and takes its lock.
    public init(directory: String) throws {
        self.directory = directory
        try Self.makeDirectories(directory)
        let lockPath = directory + "/lock"
        let fd = try retryingEINTR("open", path: lockPath) {
            open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK {
                throw StateStoreError.inUse(directory: directory)
            }
            throw SystemError("flock", path: lockPath, code: code)
        }
        lockDescriptor = fd
    }

    deinit {
        close(lockDescriptor)
    }

    /// The saved state, or nil when there is none or it cannot be read
    /// (the reason goes to `problem`).
    public func load(problem: (String) -> Void = { _ in }) -> PersistedState? {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readSmallFile(statePath, limit: 65536)
        } catch let error as SystemError where error.code == ENOENT {
            return nil
        } catch {
            problem("\(error)")
            return nil
        }
        guard let value = try? JSONCodec.decode(bytes),
            let bootID = value["boot_id"]?.stringValue,
            let instance = value["instance"]?.stringValue,
            let seq = value["seq"]?.uint64Value,
            let generation = value["generation"]?.uint64Value,
            let source = value["source"]?.stringValue,
            let changedAt = value["changed_at_ms"]?.int64Value
        else {
            problem("\(statePath): not a genidd state file; starting a new seq series")
            return nil
        }
        return PersistedState(
            bootID: bootID, instance: instance, seq: seq, generation: generation, source: source,
            cursor: value["cursor"]?.stringValue, changedAtMilliseconds: changedAt,
            uuidHash: value["uuid_hash"]?.stringValue)
    }

    /// Writes the state atomically (temporary file + rename).
    public func save(_ state: PersistedState) throws {
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
        ])
        try FileIO.writeAtomically(statePath, contents: Array((JSONCodec.encode(document) + "\n").utf8))
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
public enum StateStoreError: Error, CustomStringConvertible, Sendable {
    case inUse(directory: String)

    public var description: String {
        switch self {
        case .inUse(let directory):
            return "\(directory): another genidd is using this state directory (its lock is held)"
        }
    }
}

extension String {
    /// The string without leading and trailing ASCII whitespace.
    public func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
