import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps files in the `/dev/sysgenid` (and `/dev/vmgenid`) layout for
/// libraries that read a device: a little-endian u32 at offset 0 holding the
/// low 32 bits of `seq`, which changes on every reported change and never
/// repeats within a boot (a new instance numbers its `seq` on from the
/// highest value already exported, see ``highestExported``). Bind-mounted
/// read-only at `/dev/sysgenid` into a container, it lets AWS-LC and friends
/// detect restores with no code change.
///
/// Each file is written in place and is never truncated, renamed or recreated
/// while genidd runs, so existing shared mappings see every new value. Files
/// are one page long (what the device ABIs map), mode 0444, and their page is
/// written in full once, so that later 4-byte updates need no new disk or
/// tmpfs space. genidd only adopts a path that is missing, empty, or looks
/// like one of its own exports (one page, zero past the counter): anything
/// else is refused rather than overwritten.
public final class GenerationExporter: @unchecked Sendable {
    // Unchecked: `export` is called only from the source thread (and from the
    // main thread before it starts).
    private final class ExportFile {
        let path: String
        let file: OwnedDescriptor
        /// The counter the file held when genidd opened it.
        let initialValue: UInt32
        /// False until the whole page was written once.
        var allocated: Bool
        init(path: String, file: OwnedDescriptor, initialValue: UInt32, allocated: Bool) {
            self.path = path
            self.file = file
            self.initialValue = initialValue
            self.allocated = allocated
        }
    }

    private let files: [ExportFile]

    /// Opens (creating when missing) every export file. Throws a
    /// ``ConfigurationError`` naming the path when one cannot be adopted.
    public init(paths: [String], logger: Logger) throws {
        files = try paths.map { try Self.open($0, logger: logger) }
    }

    /// True when there is nothing to export.
    var isEmpty: Bool { files.isEmpty }

    /// The largest counter an export file held at start: a new instance
    /// begins its `seq` above it, so that readers never see a value again.
    var highestExported: UInt32 {
        files.map(\.initialValue).max() ?? 0
    }

    /// Writes the low 32 bits of `seq` to every file. Returns one problem per
    /// file that could not be updated (empty when all hold `seq`).
    func export(seq: UInt64) -> [String] {
        let value = UInt32(truncatingIfNeeded: seq)
        var problems: [String] = []
        for file in files {
            do {
                try write(value, to: file)
            } catch {
                problems.append("\(error)")
            }
        }
        return problems
    }

    private func write(_ value: UInt32, to file: ExportFile) throws {
        if file.allocated {
            var little = value.littleEndian
            let count = try retryingEINTR("pwrite", path: file.path) { pwrite(file.file.raw, &little, 4, 0) }
            guard count == 4 else { throw SystemError("pwrite", path: file.path, code: EIO) }
            return
        }
        var page = [UInt8](repeating: 0, count: MappedPage.pageSize)
        withUnsafeBytes(of: value.littleEndian) { page.replaceSubrange(0..<4, with: $0) }
        let count = try page.withUnsafeBytes { bytes in
            try retryingEINTR("pwrite", path: file.path) { pwrite(file.file.raw, bytes.baseAddress, bytes.count, 0) }
        }
        guard count == page.count else { throw SystemError("pwrite", path: file.path, code: ENOSPC) }
        file.allocated = true
    }

    private static func open(_ path: String, logger: Logger) throws -> ExportFile {
        let file: OwnedDescriptor
        var created = false
        do {
            do {
                file = try FileIO.openRegularFile(path, flags: O_RDWR | O_NOFOLLOW)
            } catch let error as SystemError where error.code == EACCES {
                // Its own 0444 export, reopened by a genidd without CAP_DAC_OVERRIDE.
                let reader = try FileIO.openRegularFile(path, flags: O_RDONLY | O_NOFOLLOW)
                guard try FileIdentity(descriptor: reader.raw, path: path).owner == geteuid() else { throw error }
                try SystemError.check(fchmod(reader.raw, 0o644), "fchmod", path: path)
                file = try FileIO.openRegularFile(path, flags: O_RDWR | O_NOFOLLOW)
            } catch let error as SystemError where error.code == ENOENT {
                file = try FileIO.openRegularFile(path, flags: O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o444)
                created = true
            }
        } catch {
            throw ConfigurationError("--export-sysgenid/--export-vmgenid: \(error)")
        }
        let identity = try FileIdentity(descriptor: file.raw, path: path)
        let pageSize = MappedPage.pageSize
        var initialValue: UInt32 = 0
        var allocated = false
        if identity.size == Int64(pageSize) {
            var page = [UInt8](repeating: 0, count: pageSize)
            let count = try page.withUnsafeMutableBytes { bytes in
                try retryingEINTR("pread", path: path) { pread(file.raw, bytes.baseAddress, bytes.count, 0) }
            }
            guard count == pageSize, page[4...].allSatisfy({ $0 == 0 }) else {
                throw Self.refusal(path, "holds data past its first 4 bytes")
            }
            initialValue = page.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
            allocated = identity.allocatedBytes >= Int64(pageSize)
        } else if identity.size != 0 {
            throw Self.refusal(path, "is \(identity.size) bytes long (a genidd export is one \(pageSize)-byte page)")
        }
        do {
            if identity.size == 0 {
                try SystemError.check(ftruncate(file.raw, off_t(pageSize)), "ftruncate", path: path)
            }
            try SystemError.check(fchmod(file.raw, 0o444), "fchmod", path: path)
        } catch {
            if created { unlink(path) }
            throw ConfigurationError("--export-sysgenid/--export-vmgenid: \(error)")
        }
        if (try? KernelShims.isOnTmpfs(file)) == false {
            logger.warning(
                "export file is not on tmpfs; it works, but each change is a disk write", metadata: ["path": "\(path)"])
        }
        return ExportFile(path: path, file: file, initialValue: initialValue, allocated: allocated)
    }

    private static func refusal(_ path: String, _ problem: String) -> ConfigurationError {
        ConfigurationError(
            "--export-sysgenid/--export-vmgenid: \(path) exists and is not a genidd export: it \(problem); "
                + "refusing to overwrite it (remove it, or choose another path)")
    }
}
