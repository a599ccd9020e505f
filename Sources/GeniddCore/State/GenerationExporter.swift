import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps files in the `/dev/sysgenid` (and `/dev/vmgenid`) layout for
/// libraries that read a device: a little-endian u32 at offset 0 holding the
/// low 32 bits of `seq`, which changes on every reported change and never
/// repeats within a boot. Bind-mounted read-only at `/dev/sysgenid` into a
/// container, it lets AWS-LC and friends detect restores with no code change.
///
/// Each file is written in place by one aligned 4-byte `pwrite` and is never
/// truncated, renamed or recreated while genidd runs, so existing shared
/// mappings see every new value. Files are one page long (what the device
/// ABIs map) and mode 0444.
public final class GenerationExporter: @unchecked Sendable {
    // Unchecked: `export` is called only from the source thread (and from the
    // main thread before it starts).
    private var files: [(path: String, descriptor: Int32)] = []
    private let logger: Logger

    /// Opens (creating when missing) every export file.
    public init(paths: [String], logger: Logger) throws {
        self.logger = logger
        do {
            for path in paths {
                files.append((path, try Self.open(path, logger: logger)))
            }
        } catch {
            files.forEach { close($0.descriptor) }
            throw error
        }
    }

    deinit {
        files.forEach { close($0.descriptor) }
    }

    /// Writes the low 32 bits of `seq` to every file.
    public func export(seq: UInt64) {
        var value = UInt32(truncatingIfNeeded: seq).littleEndian
        for file in files where pwrite(file.descriptor, &value, 4, 0) != 4 {
            logger.error(
                "cannot update an export file", metadata: ["problem": "\(SystemError("pwrite", path: file.path))"])
        }
    }

    private static func open(_ path: String, logger: Logger) throws -> Int32 {
        var fd = Glibc.open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
        if fd < 0 && errno == ENOENT {
            fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o444)
        }
        guard fd >= 0 else { throw ConfigurationError("export file \(SystemError("open", path: path))") }
        do {
            let identity = try FileIdentity(descriptor: fd, path: path)
            guard identity.isRegularFile else {
                throw ConfigurationError("export file \(path) exists and is not a regular file")
            }
            if identity.size < Int64(MappedPage.pageSize) {
                try SystemError.check(ftruncate(fd, off_t(MappedPage.pageSize)), "ftruncate", path: path)
            }
            try SystemError.check(fchmod(fd, 0o444), "fchmod", path: path)
        } catch {
            Glibc.close(fd)
            throw error
        }
        if !KernelShims.isOnTmpfs(fd) {
            logger.warning(
                "export file is not on tmpfs; it works, but each change is a disk write", metadata: ["path": "\(path)"])
        }
        return fd
    }
}
