import GeniddSystem

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

/// Bumps a sysgenid source: `SYSGENID_FORCE_GEN_UPDATE(minimum)` on the device,
/// numbered as its ABI revision wants (`TRIGGER_GEN_UPDATE` from v6 on; the
/// driver requires CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN), or an in-place
/// 4-byte write to a file in its layout.
struct SysgenidBumper: GenerationBumper {
    let path: String

    func bump(minimum: UInt64?) throws -> UInt64? {
        let file = try OwnedDescriptor.open(path, O_RDWR | O_NONBLOCK | O_NOCTTY)
        var value: UInt32 = 0
        guard let probe = try withUnsafeMutableBytes(of: &value, { try file.read(into: $0) }) else {
            // The device (a fresh watcher has nothing to read): the driver
            // computes max(minimum, current + 1).
            guard (minimum ?? 0) <= UInt64(UInt32.max) else {
                throw BumpError("min must fit in 32 bits for \(path)")
            }
            guard let revision = SysgenidABI.detect(file, writable: true).revision else {
                throw BumpError("\(path): not a sysgenid ioctl ABI genidd knows (v4, v5, v7); not bumping")
            }
            try KernelShims.sysgenidForceUpdate(file, revision: revision, minimum: UInt(minimum ?? 0))
            return nil
        }
        guard probe == 4 else { throw BumpError("\(path): cannot read the 4-byte counter") }
        let current = UInt32(littleEndian: value)
        let next = max(minimum ?? 0, UInt64(current) + 1)
        guard next <= UInt64(UInt32.max) else { throw BumpError("\(path): the 32-bit counter would overflow") }
        var little = UInt32(next).littleEndian
        guard try withUnsafeBytes(of: &little, { try file.write(at: 0, $0) }) == 4 else {
            throw SystemError("pwrite", path: path, code: EIO)
        }
        return next
    }
}

/// A bump that could not be made (answered 409), with a message naming the counter.
struct BumpError: Error, CustomStringConvertible, Sendable {
    let description: String
    init(_ description: String) { self.description = description }
}
