import Foundation

/// A regular file standing in for a device page (`/dev/vmclock0`,
/// `/dev/vmgenid`, `/dev/sysgenid`): genidd maps it exactly as it maps the
/// device, and the test writes it in place, field by field, as the hypervisor would.
final class DevicePageFixture {
    let path: String
    private let fd: Int32

    /// Creates (or replaces) the file with `size` zero bytes.
    init(path: String, size: Int = 4096) throws {
        self.path = path
        unlink(path)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DaemonTestError("create \(path): \(String(cString: strerror(errno)))") }
        guard ftruncate(fd, off_t(size)) == 0 else { throw DaemonTestError("ftruncate \(path)") }
    }

    deinit {
        close(fd)
    }

    func write32(_ value: UInt32, at offset: Int) {
        var little = value.littleEndian
        _ = pwrite(fd, &little, 4, off_t(offset))
    }

    func write64(_ value: UInt64, at offset: Int) {
        var little = value.littleEndian
        _ = pwrite(fd, &little, 8, off_t(offset))
    }

    func write16(_ value: UInt16, at offset: Int) {
        var little = value.littleEndian
        _ = pwrite(fd, &little, 2, off_t(offset))
    }

    func truncate(to size: Int) {
        _ = ftruncate(fd, off_t(size))
    }
}

/// A VMClock page (`struct vmclock_abi`, linux/vmclock-abi.h) written with the
/// seqcount protocol: `seq_count` odd, fields, `seq_count` even.
final class VMClockFixture {
    static let magic: UInt32 = 0x4b4c_4356
    static let generationCounterPresent: UInt64 = 1 << 8
    static let notificationPresent: UInt64 = 1 << 9
    enum Offset {
        static let magic = 0
        static let size = 4
        static let version = 8
        static let seqCount = 12
        static let disruptionMarker = 16
        static let flags = 24
        static let vmGenerationCounter = 104
    }

    let page: DevicePageFixture
    private(set) var sequence: UInt32 = 0
    var path: String { page.path }

    init(path: String, flags: UInt64, counter: UInt64 = 1, marker: UInt64 = 7) throws {
        page = try DevicePageFixture(path: path)
        page.write32(Self.magic, at: Offset.magic)
        page.write32(4096, at: Offset.size)
        page.write16(1, at: Offset.version)
        page.write64(flags, at: Offset.flags)
        page.write64(marker, at: Offset.disruptionMarker)
        page.write64(counter, at: Offset.vmGenerationCounter)
        page.write32(0, at: Offset.seqCount)
    }

    /// Starts an update: `seq_count` becomes odd.
    func beginUpdate() {
        sequence += 1
        page.write32(sequence, at: Offset.seqCount)
    }

    /// Ends an update: `seq_count` becomes even again.
    func endUpdate() {
        sequence += 1
        page.write32(sequence, at: Offset.seqCount)
    }

    /// A complete update of the generation counter, as a restore does.
    func setCounter(_ value: UInt64) {
        beginUpdate()
        page.write64(value, at: Offset.vmGenerationCounter)
        endUpdate()
    }

    /// A complete update of the disruption marker, as a live migration does.
    func setMarker(_ value: UInt64) {
        beginUpdate()
        page.write64(value, at: Offset.disruptionMarker)
        endUpdate()
    }

    /// Writes a field without the seqcount dance (a broken hypervisor, or garbage).
    func writeRaw32(_ value: UInt32, at offset: Int) {
        page.write32(value, at: offset)
    }
}
