import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// A device node or regular file whose first page genidd maps read-only:
/// the `/dev/vmgenid` and `/dev/sysgenid` counters, the VMClock page. It is
/// watched for replacement or removal.
///
/// Regular files (test fixtures, exports) can shrink while mapped, and touching
/// a mapped page past the end of a file raises SIGBUS, so for them every read
/// first checks the size (one `fstat`). Device pages cannot shrink and are read
/// with no syscall.
final class MappedDevice {
    let path: String
    let file: OwnedDescriptor
    let identity: FileIdentity
    let watch: PathWatch
    let page: MappedPage
    /// Bytes a regular file must hold, and what they hold (for messages).
    private let minimumSize: Int64
    private let contents: String

    /// Opens `path` with `flags`, maps its first page and watches its name.
    /// - Parameters:
    ///   - minimumSize: bytes a regular file must hold to be read.
    ///   - contents: what those bytes are, for messages ("the counter").
    init(path: String, flags: Int32, minimumSize: Int64, contents: String) throws {
        self.path = path
        self.minimumSize = minimumSize
        self.contents = contents
        // Non-blocking: a FIFO planted at the path must not block the source thread in open().
        file = try OwnedDescriptor.open(path, flags | O_NONBLOCK | O_NOCTTY)
        identity = try file.identity()
        guard identity.isCharacterDevice || identity.isRegularFile else {
            throw SourceError.malformed(
                "\(path): is \(identity.kind.rawValue), neither a character device nor a regular file")
        }
        if identity.isRegularFile && identity.size < minimumSize {
            throw SourceError.malformed("\(path): holds \(identity.size) bytes; \(contents) needs \(minimumSize)")
        }
        page = try MappedPage(descriptor: file.raw, path: path)
        watch = try PathWatch(path: path)
        if identity.isRegularFile {
            try watch.watchContents()
        }
    }

    /// The descriptor, for `poll()` sets.
    var descriptor: Int32 { file.raw }

    /// Throws when a regular file shrank below what genidd reads from its
    /// mapping; call before every read of `page`.
    func checkSize() throws {
        guard identity.isRegularFile else { return }
        let now = try file.identity()
        if now.size < minimumSize {
            throw SourceError.malformed("\(path): shrank to \(now.size) bytes; \(contents) needs \(minimumSize)")
        }
    }

    /// The little-endian u32 at offset 0 (the vmgenid and sysgenid layout).
    func counter() throws -> UInt32 {
        try checkSize()
        return page.loadUInt32(at: 0)
    }

    /// Throws when the path no longer names the opened file (removed, or
    /// replaced by another file or device): the source must be reopened.
    func checkStillPresent() throws {
        let current: FileIdentity
        do {
            current = try FileIdentity(path: path)
        } catch {
            throw SourceError.missing("\(path): the device disappeared")
        }
        if !current.isSameFile(as: identity) {
            throw SourceError.missing("\(path): replaced by another file or device")
        }
    }
}
