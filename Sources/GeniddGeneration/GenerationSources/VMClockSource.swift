import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The `vmclock[:PATH]` source (default `/dev/vmclock0`, driver `ptp_vmclock`):
/// a read-only page holding `struct vmclock_abi`, read under its seqcount.
///
/// With `VM_GEN_COUNTER_PRESENT` (Linux 7.0+, and backports) the page carries
/// `vm_generation_counter`, bumped by the hypervisor on every snapshot restore.
/// With `NOTIFICATION_PRESENT` the device's `poll()` wakes on each update;
/// otherwise genidd re-reads the mapped page every `checkInterval` ms (one
/// memory read, no syscall). `disruption_marker` changes (live migration) are
/// reported as `clock-disruption` events: no reseed is needed, but clock users
/// want to know.
///
/// In `disruptionOnly` mode the source reports only disruptions; genidd uses
/// that beside another generation source when the VMClock has no counter.
final class VMClockSource: GenerationSource {
    static let defaultPath = "/dev/vmclock0"
    let name: String
    private(set) var notification = ChangeNotification.interval
    var checkInterval: Duration? {
        if tornRetry { return .milliseconds(1) }
        return notification == .interval ? interval : nil
    }
    var descriptor: Int32 { events?.descriptor ?? -1 }

    private let path: String
    private let interval: Duration
    private let disruptionOnly: Bool
    private var device: MappedDevice?
    private var events: EpollSet?
    private var last: VMClockSnapshot?
    private var tornRetry = false

    /// Seqcount attempts per read before giving up until the next check.
    static let readAttempts: UInt32 = 1000
    private static let deviceTag: UInt64 = 1
    private static let watchTag: UInt64 = 2

    init(
        path: String = VMClockSource.defaultPath, interval: Duration = .milliseconds(100), disruptionOnly: Bool = false
    ) {
        self.path = path
        self.interval = interval
        self.disruptionOnly = disruptionOnly
        name = path == Self.defaultPath ? "vmclock" : "vmclock:" + path
    }

    /// Reads the page once without keeping it open: what `auto` uses to decide.
    static func inspect(path: String) throws -> VMClockSnapshot {
        let source = VMClockSource(path: path, disruptionOnly: true)
        defer { source.close() }
        _ = try source.open(resume: nil)
        guard let snapshot = source.last else { throw SourceError.io("\(path): no consistent read") }
        return snapshot
    }

    func open(resume: SourceCheckpoint?) throws -> SourceEvent {
        close()
        do {
            let device = try MappedDevice(
                path: path, flags: O_RDONLY, minimumSize: Int64(VMClockSnapshot.baseSize),
                contents: "struct vmclock_abi")
            self.device = device
            guard let snapshot = KernelShims.readVMClock(device.page, attempts: Self.readAttempts) else {
                throw SourceError.io("\(path): seq_count stayed odd (an update never completed)")
            }
            if let problem = snapshot.problem {
                throw SourceError.malformed("\(path): not a VMClock page: \(problem)")
            }
            if !disruptionOnly && !snapshot.hasGenerationCounter {
                throw SourceError.malformed(
                    "\(path): this VMClock has no VM generation counter (flags 0x\(String(snapshot.flags, radix: 16)), "
                        + "size \(snapshot.size)); it needs Linux 7.0+ and a hypervisor that sets it")
            }
            let events = try EpollSet()
            try events.add(device.watch.descriptor, tag: Self.watchTag)
            if device.identity.isRegularFile {
                // A test fixture: inotify on writes stands in for the device's poll().
                notification = snapshot.hasNotification ? .inotify : .interval
            } else if snapshot.hasNotification {
                try events.add(device.descriptor, tag: Self.deviceTag)
                notification = .poll
                acknowledgeNotification()
            } else {
                notification = .interval
            }
            self.events = events
            last = snapshot
            return .reading(SourceReading(generation: disruptionOnly ? 0 : snapshot.vmGenerationCounter))
        } catch {
            close()
            throw error
        }
    }

    func check() throws -> [SourceEvent] {
        guard let device, let events, let previous = last else { return [] }
        for (tag, bits) in events.ready() {
            if tag == Self.watchTag, try device.watch.drain().nameTouched {
                try device.checkStillPresent()
            } else if tag == Self.deviceTag {
                if bits & (EpollSet.hangUp | EpollSet.error) != 0 {
                    throw SourceError.io("\(path): the device reported a hang-up or error")
                }
                acknowledgeNotification()
            }
        }
        try device.checkSize()
        guard let snapshot = KernelShims.readVMClock(device.page, attempts: Self.readAttempts) else {
            // An update is in progress: look again in a millisecond.
            tornRetry = true
            return []
        }
        tornRetry = false
        if let problem = snapshot.problem {
            throw SourceError.malformed("\(path): no longer a VMClock page: \(problem)")
        }
        last = snapshot
        var results: [SourceEvent] = []
        if snapshot.disruptionMarker != previous.disruptionMarker {
            results.append(.clockDisruption(marker: snapshot.disruptionMarker))
        }
        if !disruptionOnly {
            if !snapshot.hasGenerationCounter {
                throw SourceError.malformed("\(path): the VM generation counter is no longer present")
            }
            if snapshot.vmGenerationCounter != previous.vmGenerationCounter {
                results.append(.reading(SourceReading(generation: snapshot.vmGenerationCounter)))
            }
        }
        return results
    }

    /// The device keeps `poll()` readable until this descriptor `read()`s the
    /// page after an update; reading it (the mapping is what genidd uses)
    /// re-arms the notification instead of spinning.
    private func acknowledgeNotification() {
        guard let device else { return }
        var scratch = [UInt8](repeating: 0, count: Int(VMClockSnapshot.sizeWithGenerationCounter))
        _ = scratch.withUnsafeMutableBytes { pread(device.descriptor, $0.baseAddress, $0.count, 0) }
    }

    func status() -> [(String, JSONValue)] {
        guard let last else { return [] }
        return [
            ("vmclock_flags", .uint(last.flags)), ("vmclock_disruption_marker", .uint(last.disruptionMarker)),
        ]
    }

    func close() {
        events = nil
        device = nil
    }
}
