#if canImport(Glibc)
    import Glibc
#endif

/// Moves a source's counter forward on request (`POST /v1/generation/bump`),
/// as `SYSGENID_FORCE_GEN_UPDATE` does: to `max(minimum, current + 1)`. The
/// change then reaches genidd through the source like any other change.
public protocol GenerationBumper: Sendable {
    /// Bumps the counter. Returns the new value when it is known.
    func bump(minimum: UInt64?) throws -> UInt64?
}

/// Bumps a `file:` counter: writes the new decimal value to a temporary file
/// beside it and renames it over the counter (atomic for readers).
struct FileCounterBumper: GenerationBumper {
    let path: String

    func bump(minimum: UInt64?) throws -> UInt64? {
        let bytes = try FileIO.readSmallFile(path, limit: 256)
        let current = try FileCounterSource.parseCounter(bytes).get()
        let (next, overflow) = current.addingReportingOverflow(1)
        guard !overflow else { throw BumpError("\(path): the counter is at its maximum") }
        let value = max(minimum ?? 0, next)
        try FileIO.writeAtomically(path, contents: Array("\(value)\n".utf8))
        return value
    }
}

/// Bumps a sysgenid source: `SYSGENID_FORCE_GEN_UPDATE(minimum)` on the device
/// (the driver requires CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN), or an
/// in-place 4-byte write to a file in its layout.
struct SysgenidBumper: GenerationBumper {
    let path: String

    func bump(minimum: UInt64?) throws -> UInt64? {
        let fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        var value: UInt32 = 0
        let probe = read(fd, &value, 4)
        if probe < 0 && errno == EAGAIN {
            // The device: the driver computes max(minimum, current + 1).
            guard (minimum ?? 0) <= UInt64(UInt32.max) else {
                throw BumpError("min must fit in 32 bits for \(path)")
            }
            if KernelShims.sysgenidForceUpdate(fd, minimum: UInt(minimum ?? 0)) != 0 {
                throw SystemError("ioctl(SYSGENID_FORCE_GEN_UPDATE)", path: path)
            }
            return nil
        }
        guard probe == 4 else { throw BumpError("\(path): cannot read the 4-byte counter") }
        let current = UInt32(littleEndian: value)
        let next = max(minimum ?? 0, UInt64(current) + 1)
        guard next <= UInt64(UInt32.max) else { throw BumpError("\(path): the 32-bit counter would overflow") }
        var little = UInt32(next).littleEndian
        guard pwrite(fd, &little, 4, 0) == 4 else { throw SystemError("write", path: path) }
        return next
    }
}

/// A bump that could not be made (answered 409), with a message naming the counter.
public struct BumpError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
