#if canImport(Glibc)
    import Glibc
#endif

/// Small file helpers used by sources and the state store.
///
/// They read bounded amounts (a counter file is tiny; anything large is an error,
/// not something to load into memory) and name the path in every error.
public enum FileIO {
    /// Reads at most `limit` bytes of a regular file. Throws ``FileIOError/tooLarge``
    /// when the file holds more, and ``SystemError`` when it cannot be read.
    public static func readSmallFile(_ path: String, limit: Int = 4096) throws -> [UInt8] {
        let fd = try retryingEINTR("open", path: path) { open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) }
        defer { close(fd) }
        var info = stat()
        try SystemError.check(fstat(fd, &info), "fstat", path: path)
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw SystemError("read", path: path, code: EISDIR)
        }
        var bytes = [UInt8](repeating: 0, count: limit + 1)
        var filled = 0
        while filled < bytes.count {
            let count = try bytes.withUnsafeMutableBytes { buffer in
                try retryingEINTR("read", path: path) {
                    read(fd, buffer.baseAddress! + filled, buffer.count - filled)
                }
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

    /// Replaces a file atomically: writes a temporary file beside it, then renames it.
    public static func writeAtomically(_ path: String, contents: [UInt8], mode: mode_t = 0o644) throws {
        let temporary = path + ".tmp"
        let fd = try retryingEINTR("open", path: temporary) {
            open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        }
        var written = 0
        do {
            while written < contents.count {
                let count = try contents.withUnsafeBytes { buffer in
                    try retryingEINTR("write", path: temporary) {
                        write(fd, buffer.baseAddress! + written, buffer.count - written)
                    }
                }
                written += count
            }
            try SystemError.check(fchmod(fd, mode), "fchmod", path: temporary)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        try SystemError.check(rename(temporary, path), "rename", path: path)
    }

    /// True when `path` exists (without following a final symlink).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

/// File contents that genidd refuses to use.
public enum FileIOError: Error, CustomStringConvertible, Sendable, Equatable {
    case tooLarge(path: String, limit: Int)

    public var description: String {
        switch self {
        case .tooLarge(let path, let limit):
            return "\(path): larger than \(limit) bytes"
        }
    }
}
