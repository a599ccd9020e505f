import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The `vmgenid[:PATH]` source (default `/dev/vmgenid`): the u32 generation
/// counter the vmgenid driver extension exposes (seed 003). `read()` must ask
/// for exactly 4 bytes at offset 0 (anything else is `EINVAL`); `mmap()` gives
/// the live counter. The ABI has no notification, so genidd re-reads the
/// mapped word every `checkInterval` milliseconds: one memory read, no syscall.
final class VmgenidSource: GenerationSource {
    static let defaultPath = "/dev/vmgenid"
    let name: String
    let notification = ChangeNotification.interval
    let checkInterval: Duration?
    var descriptor: Int32 { device?.watch.descriptor ?? -1 }

    private let path: String
    private var device: MappedDevice?
    private var last: UInt32 = 0

    init(path: String = VmgenidSource.defaultPath, interval: Duration = .milliseconds(100)) {
        self.path = path
        name = path == Self.defaultPath ? "vmgenid" : "vmgenid:" + path
        checkInterval = interval
    }

    func open(resume: SourceCheckpoint?) throws -> SourceEvent {
        let device = try MappedDevice(path: path, flags: O_RDONLY, minimumSize: 4, contents: "the counter")
        let value = try Self.readCounter(device)
        self.device = device
        last = value
        return .reading(SourceReading(generation: UInt64(value)))
    }

    func check() throws -> [SourceEvent] {
        guard let device else { return [] }
        if try device.watch.drain().nameTouched {
            try device.checkStillPresent()
        }
        let value = try device.counter()
        guard value != last else { return [] }
        last = value
        return [.reading(SourceReading(generation: UInt64(value)))]
    }

    func close() {
        device = nil
    }

    /// The counter as the ABI's `read()` returns it: exactly 4 bytes at offset 0.
    static func readCounter(_ device: MappedDevice) throws -> UInt32 {
        var value: UInt32 = 0
        let count: Int
        do {
            do {
                count = try withUnsafeMutableBytes(of: &value) { try device.file.read(at: 0, into: $0) }
            } catch let error as SystemError where error.code == ESPIPE {
                // A device opened as a stream refuses positioned reads; a fresh descriptor is at offset 0.
                count = try withUnsafeMutableBytes(of: &value) { try device.file.read(into: $0) } ?? 0
            }
        } catch let error as SystemError where error.code == EINVAL {
            throw SourceError.io("\(device.path): the device refused a 4-byte read at offset 0 (EINVAL)")
        }
        guard count == 4 else {
            throw SourceError.io("\(device.path): short read of \(count) bytes; the counter is 4 bytes")
        }
        return UInt32(littleEndian: value)
    }
}
