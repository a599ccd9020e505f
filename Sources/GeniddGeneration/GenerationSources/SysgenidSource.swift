import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The `sysgenid[:PATH]` source (default `/dev/sysgenid`), per the sysgenid
/// driver ABI (seed 004).
///
/// On the character device genidd is one *watcher*: `poll()` says when its
/// counter is outdated, a 4-byte `read()` returns the new counter, and a
/// 4-byte `write()` of that counter acknowledges it once genidd has delivered
/// the change to its own subscribers, so the kernel's outdated-watcher count
/// covers genidd. The current counter at open comes from the mapped page.
///
/// The driver's ioctls were renumbered between its revisions: the revision
/// is found at open (``SysgenidABI``), and on v6 and later, where an open
/// file is a watcher only on request, genidd asks to be tracked.
///
/// A regular file with the same layout (a u32 at offset 0, as AWS-LC's tests
/// and genidd's own `--export-sysgenid` use) is mapped and watched with inotify.
final class SysgenidSource: GenerationSource {
    static let defaultPath = "/dev/sysgenid"
    let name: String
    let notification = ChangeNotification.poll
    let checkInterval: Duration? = nil
    var descriptor: Int32 { events?.descriptor ?? -1 }

    private let path: String
    private let log: (String) -> Void
    private var device: MappedDevice?
    private var events: EpollSet?
    private var last: UInt32 = 0
    private var canAcknowledge = false
    /// The counter a `read()` returned and genidd has not acknowledged yet.
    private var unacknowledged: UInt32?
    /// The file behaves as the sysgenid device (watcher semantics), not as a plain file.
    private var isWatcher = false
    /// The device's ioctl ABI revision (nil for a plain file in the layout).
    private var abi: SysgenidABI?

    private static let deviceTag: UInt64 = 1
    private static let watchTag: UInt64 = 2

    init(path: String = SysgenidSource.defaultPath, log: @escaping (String) -> Void = { _ in }) {
        self.path = path
        self.log = log
        name = path == Self.defaultPath ? "sysgenid" : "sysgenid:" + path
    }

    func open(resume: SourceCheckpoint?) throws -> SourceEvent {
        close()
        var writable = true
        let device: MappedDevice
        do {
            device = try MappedDevice(path: path, flags: O_RDWR | O_NONBLOCK, minimumSize: 4, contents: "the counter")
        } catch let error as SystemError where error.code == EACCES || error.code == EROFS {
            device = try MappedDevice(path: path, flags: O_RDONLY | O_NONBLOCK, minimumSize: 4, contents: "the counter")
            writable = false
        }
        // A fresh watcher is up to date, so the device answers a non-blocking
        // read with EAGAIN; a file in the same layout returns its counter.
        // Telling them apart by behaviour also covers emulations of the device.
        var probe: UInt32 = 0
        isWatcher = try withUnsafeMutableBytes(of: &probe) { try device.file.read(into: $0) } == nil
        canAcknowledge = isWatcher && writable
        if isWatcher && !writable {
            log("\(path) is not writable: genidd watches it but cannot acknowledge generations")
        }
        abi = isWatcher ? SysgenidABI.detect(device.file, writable: writable) : nil
        if abi?.tracksOnRequest == true {
            // Without tracking the driver does not count genidd as a watcher,
            // and an orchestrator's WAIT_WATCHERS would not wait for it.
            do {
                try KernelShims.sysgenidSetWatcherTracking(device.file, enabled: true)
            } catch {
                log("\(path): cannot become a tracked watcher, so the driver does not wait for genidd: \(error)")
            }
        }
        let events = try EpollSet()
        try events.add(device.watch.descriptor, tag: Self.watchTag)
        if isWatcher {
            try events.add(device.descriptor, tag: Self.deviceTag)
        }
        last = try device.counter()
        unacknowledged = nil
        self.device = device
        self.events = events
        return .reading(SourceReading(generation: UInt64(last)))
    }

    func check() throws -> [SourceEvent] {
        guard let device, let events else { return [] }
        var value: UInt32?
        for (tag, bits) in events.ready() {
            if tag == Self.watchTag {
                let changes = try device.watch.drain()
                if changes.nameTouched {
                    try device.checkStillPresent()
                }
                if changes.any && !isWatcher {
                    value = try device.counter()
                }
            } else if tag == Self.deviceTag {
                if bits & (EpollSet.hangUp | EpollSet.error) != 0 {
                    throw SourceError.io("\(path): the device reported an error or hang-up")
                }
                if let new = try readNewCounter(device) {
                    // The device keeps answering with the counter genidd has not
                    // acknowledged yet (it may be held for HTTP watchers): not news.
                    if new == last && unacknowledged == new {
                        continue
                    }
                    value = new
                    unacknowledged = new
                }
            }
        }
        guard let value, value != last || (isWatcher && unacknowledged == value) else { return [] }
        last = value
        return [.reading(SourceReading(generation: UInt64(value)))]
    }

    var acknowledgesDelivery: Bool { canAcknowledge }

    func delivered(_ reading: SourceReading) {
        guard canAcknowledge, let device, let pending = unacknowledged,
            UInt64(pending) == reading.generation
        else { return }
        unacknowledged = nil
        var value = pending.littleEndian
        do {
            _ = try withUnsafeBytes(of: &value) { try device.file.write($0) }
        } catch {
            // EINVAL: the counter moved on meanwhile; poll() stays readable and
            // the next read returns the newer counter, which is acknowledged then.
            log("acknowledging generation \(reading.generation) failed: \(error)")
        }
    }

    func status() -> [(String, JSONValue)] {
        guard let device, let abi else { return [] }
        var facts: [(String, JSONValue)] = [("sysgenid_abi", .string(abi.rawValue))]
        if abi.countsOutdatedWatchers, let outdated = try? KernelShims.sysgenidOutdatedWatchers(device.file) {
            facts.append(("kernel_outdated_watchers", .int(Int64(outdated))))
        }
        return facts
    }

    func close() {
        events = nil
        device = nil
        abi = nil
    }

    func makeBumper() -> (any GenerationBumper)? {
        SysgenidBumper(path: path)
    }

    /// A non-blocking 4-byte read: the new counter, or nil when this watcher is up to date.
    private func readNewCounter(_ device: MappedDevice) throws -> UInt32? {
        var value: UInt32 = 0
        guard let count = try withUnsafeMutableBytes(of: &value, { try device.file.read(into: $0) }) else {
            return nil
        }
        guard count == 4 else {
            throw SourceError.io("\(path): short read of \(count) bytes; the counter is 4 bytes")
        }
        return UInt32(littleEndian: value)
    }
}
