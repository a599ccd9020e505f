#if canImport(Glibc)
    import Glibc
#endif

/// A file descriptor that closes itself when its owner lets go of it, with
/// the system calls genidd makes on it. Every call retries `EINTR` and
/// throws a ``SystemError`` naming the call and ``path``.
public final class OwnedDescriptor: Sendable {
    public let raw: Int32
    /// What the descriptor is, for messages: a path, or a name such as `uevent socket`.
    public let path: String

    /// Takes ownership of `raw` (which must be valid).
    init(_ raw: Int32, path: String = "") {
        self.raw = raw
        self.path = path
    }

    deinit {
        close(raw)
    }

    /// Opens `path` close-on-exec; `mode` applies with `O_CREAT`.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws -> OwnedDescriptor {
        let fd = try retryingEINTR("open", path: path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return OwnedDescriptor(fd, path: path)
    }

    /// `read(2)`: the bytes read (0 at end of file), or nil when a
    /// non-blocking descriptor has nothing now (`EAGAIN`).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        try nonBlocking("read") { Glibc.read(raw, buffer.baseAddress, buffer.count) }
    }

    /// `write(2)`: the bytes written, or nil when a non-blocking descriptor would block.
    public func write(_ bytes: UnsafeRawBufferPointer) throws -> Int? {
        try nonBlocking("write") { Glibc.write(raw, bytes.baseAddress, bytes.count) }
    }

    /// `pread(2)` at `offset`.
    public func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try retryingEINTR("pread", path: path) { pread(raw, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// `pwrite(2)` at `offset`.
    public func write(at offset: Int, _ bytes: UnsafeRawBufferPointer) throws -> Int {
        try retryingEINTR("pwrite", path: path) { pwrite(raw, bytes.baseAddress, bytes.count, off_t(offset)) }
    }

    /// `fstat(2)`: which file this is, its kind and size.
    public func identity() throws -> FileIdentity {
        try FileIdentity(descriptor: raw, path: path)
    }

    private func nonBlocking(_ call: String, _ body: () -> Int) throws -> Int? {
        while true {
            let result = body()
            if result >= 0 { return result }
            switch errno {
            case EINTR: continue
            case EAGAIN: return nil
            default: throw SystemError(call, path: path)
            }
        }
    }
}
