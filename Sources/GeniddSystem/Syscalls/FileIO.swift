#if canImport(Glibc)
    import Glibc
#endif

/// Small file helpers used by sources and the state store.
///
/// They read bounded amounts (a counter file is tiny; anything large is an error,
/// not something to load into memory) and name the path in every error. Every
/// open is non-blocking and checks the file type first, so that a FIFO, a
/// socket or a device planted at a path gives an error instead of a thread
/// blocked forever in `open()` or `read()`.
public enum FileIO {
    /// Opens `path` (with `O_NONBLOCK`, close-on-exec, no controlling tty) and
    /// checks that it is a regular file. Throws ``FileIOError/notRegularFile``
    /// for anything else. `mode` applies when `flags` has `O_CREAT`.
    public static func openRegularFile(_ path: String, flags: Int32 = O_RDONLY, mode: mode_t = 0o600) throws
        -> OwnedDescriptor
    {
        let file = try OwnedDescriptor.open(path, flags | O_NONBLOCK | O_NOCTTY, mode: mode)
        let identity = try file.identity()
        guard identity.isRegularFile else {
            throw FileIOError.notRegularFile(path: path, kind: identity.kind)
        }
        return file
    }

    /// Reads at most `limit` bytes of a regular file. Throws ``FileIOError/tooLarge``
    /// when the file holds more, ``FileIOError/notRegularFile`` for a FIFO,
    /// socket, device or directory, and ``SystemError`` when it cannot be read.
    public static func readSmallFile(_ path: String, limit: Int = 4096) throws -> [UInt8] {
        let file = try openRegularFile(path)
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var filled = 0
        while filled < bytes.count {
            let count = try bytes.withUnsafeMutableBytes { buffer in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...])) ?? 0
            }
            if count == 0 {
                break
            }
            filled += count
        }
        if filled > limit {
            throw FileIOError.tooLarge(path: path, limit: limit)
        }
        return Array(bytes[0..<filled])
    }

    /// Replaces a file atomically and durably: writes a new temporary file
    /// beside it, `fsync`s it, renames it over `path`, then `fsync`s the
    /// directory, so that after a crash the path holds either the old or the
    /// new contents, never a mix, and a returned save is on disk.
    ///
    /// With `durable: false` the two `fsync`s are skipped (still atomic), for
    /// data whose loss is harmless.
    public static func writeAtomically(
        _ path: String, contents: [UInt8], mode: mode_t = 0o644, durable: Bool = true
    ) throws {
        let temporary = path + ".tmp"
        // A leftover (or planted) temporary is removed rather than opened:
        // O_EXCL never follows a symlink nor opens a FIFO.
        if unlink(temporary) != 0 && errno != ENOENT {
            throw SystemError("unlink", path: temporary)
        }
        let file = try OwnedDescriptor.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode)
        do {
            var written = 0
            while written < contents.count {
                written += try contents.withUnsafeBytes { buffer in
                    try file.write(UnsafeRawBufferPointer(rebasing: buffer[written...])) ?? 0
                }
            }
            try SystemError.check(fchmod(file.raw, mode), "fchmod", path: temporary)
            if durable {
                try retryingEINTR("fsync", path: temporary) { fsync(file.raw) }
            }
            try SystemError.check(rename(temporary, path), "rename", path: path)
        } catch {
            unlink(temporary)
            throw error
        }
        if durable {
            try syncDirectory(of: path)
        }
    }

    /// `fsync` of the directory holding `path`, which makes a rename or unlink in it durable.
    public static func syncDirectory(of path: String) throws {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let handle = try OwnedDescriptor.open(directory, O_RDONLY | O_DIRECTORY)
        try retryingEINTR("fsync", path: directory) { fsync(handle.raw) }
    }

    /// True when `path` exists (without following a final symlink).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

/// What kind of file a path holds, for messages.
public enum FileKind: String, Sendable, Equatable {
    case regular = "a regular file"
    case directory = "a directory"
    case fifo = "a FIFO"
    case socket = "a socket"
    case characterDevice = "a character device"
    case blockDevice = "a block device"
    case symlink = "a symbolic link"
    case unknown = "an unknown kind of file"

    init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFLNK: self = .symlink
        default: self = .unknown
        }
    }
}

/// File contents or kinds that genidd refuses to use.
public enum FileIOError: Error, CustomStringConvertible, Sendable, Equatable {
    case tooLarge(path: String, limit: Int)
    case notRegularFile(path: String, kind: FileKind)

    public var description: String {
        switch self {
        case .tooLarge(let path, let limit):
            return "\(path): larger than \(limit) bytes"
        case .notRegularFile(let path, let kind):
            return "\(path): is \(kind.rawValue), not a regular file"
        }
    }
}
