#if canImport(Glibc)
    import Glibc
#endif

/// A device node or regular file whose first four bytes are a little-endian
/// u32 counter (the `/dev/vmgenid` and `/dev/sysgenid` layout), mapped and
/// watched for replacement or removal.
///
/// Regular files can shrink while mapped, and touching a mapped page past the
/// end of a file raises SIGBUS, so for them every read first checks the size
/// (one `fstat`). Device pages cannot shrink and are read with no syscall.
final class CounterDevice {
    let path: String
    let descriptor: Int32
    let identity: FileIdentity
    let watch: PathWatch
    private let page: MappedPage

    /// Opens `path` with `flags`, maps its first page and watches its name.
    init(path: String, flags: Int32) throws {
        self.path = path
        let fd = Glibc.open(path, flags | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        do {
            identity = try FileIdentity(descriptor: fd, path: path)
            guard identity.isCharacterDevice || identity.isRegularFile else {
                throw SourceError("\(path): neither a character device nor a regular file")
            }
            if identity.isRegularFile && identity.size < 4 {
                throw SourceError("\(path): holds \(identity.size) bytes; the counter needs 4")
            }
            page = try MappedPage(descriptor: fd, path: path)
            watch = try PathWatch(path: path)
            if identity.isRegularFile {
                try watch.watchContents()
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        descriptor = fd
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// The counter as the mapping shows it now.
    func counter() throws -> UInt32 {
        if identity.isRegularFile {
            let now = try FileIdentity(descriptor: descriptor, path: path)
            if now.size < 4 {
                throw SourceError("\(path): shrank to \(now.size) bytes; the counter needs 4")
            }
        }
        return page.loadUInt32(at: 0)
    }

    /// Throws when the path no longer names the opened file (removed, or
    /// replaced by another file or device): the source must be reopened.
    func checkStillPresent() throws {
        let current: FileIdentity
        do {
            current = try FileIdentity(path: path)
        } catch {
            throw SourceError("\(path): the device disappeared")
        }
        if !current.isSameFile(as: identity) {
            throw SourceError("\(path): replaced by another file or device")
        }
    }
}
