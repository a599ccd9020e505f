import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Finds what the running kernel offers and builds the source for a
/// ``SourceSpec``. `auto` takes the first usable source in the order
/// vmclock (with a generation counter) > sysgenid > vmgenid > kmsg, explains
/// its choice, and says what it looked for when nothing is usable.
public struct SourceProbe: Sendable {
    /// Where device nodes live (`/dev`; tests point it elsewhere).
    public var deviceRoot: String
    /// Where sysfs is mounted (`/sys`; tests point it elsewhere).
    public var sysfsRoot: String
    /// Interval of periodic checks for sources without notification, in ms.
    public var checkInterval: Duration

    public init(deviceRoot: String = "/dev", sysfsRoot: String = "/sys", checkInterval: Duration = .milliseconds(100)) {
        self.deviceRoot = deviceRoot
        self.sysfsRoot = sysfsRoot
        self.checkInterval = checkInterval
    }

    /// The chosen source, a sentence saying why, and companions: sources
    /// watched beside it for clock disruptions only.
    public struct Choice {
        public let source: any GenerationSource
        public let reason: String
        public var companions: [any GenerationSource] = []
    }

    /// Builds the source for `spec`. `log` receives the sources' warnings later on.
    public func resolve(_ spec: SourceSpec, log: @escaping @Sendable (String) -> Void) throws -> Choice {
        let requested = "requested with --source"
        var choice: Choice
        switch spec {
        case .auto:
            choice = try choose(log: log)
        case .file(let path):
            choice = Choice(source: FileCounterSource(path: path), reason: requested)
        case .kmsg:
            choice = Choice(source: KmsgSource(path: kmsgPath, warn: log), reason: requested)
        case .uevent:
            choice = Choice(source: UeventSource(log: log), reason: requested)
        case .vmclock(let path):
            choice = Choice(
                source: VMClockSource(path: path, interval: checkInterval), reason: requested)
        case .sysgenid(let path):
            choice = Choice(source: SysgenidSource(path: path, log: log), reason: requested)
        case .vmgenid(let path):
            choice = Choice(
                source: VmgenidSource(path: path, interval: checkInterval), reason: requested)
        }
        if !(choice.source is VMClockSource) && FileIO.exists(vmclockPath) {
            choice.companions.append(
                VMClockSource(path: vmclockPath, interval: checkInterval, disruptionOnly: true))
        }
        return choice
    }

    private var kmsgPath: String { deviceRoot + "/kmsg" }
    private var vmclockPath: String { deviceRoot + "/vmclock0" }
    private var sysgenidPath: String { deviceRoot + "/sysgenid" }
    private var vmgenidPath: String { deviceRoot + "/vmgenid" }

    /// The vmgenid driver's sysfs directories (platform driver since 6.x, ACPI before).
    var vmgenidDriverDirectories: [String] {
        [sysfsRoot + "/bus/platform/drivers/vmgenid", sysfsRoot + "/bus/acpi/drivers/vmgenid"]
    }

    /// The devices bound to the vmgenid driver, for example `VMGENCTR:00`.
    func boundVmgenidDevices() -> [String] {
        var devices: [String] = []
        let driverFiles: Set<String> = ["bind", "unbind", "uevent", "module", "new_id", "remove_id"]
        for directory in vmgenidDriverDirectories {
            guard let handle = opendir(directory) else { continue }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name.hasPrefix(".") || driverFiles.contains(name) { continue }
                devices.append(name)
            }
        }
        return devices.sorted()
    }

    private func choose(log: @escaping @Sendable (String) -> Void) throws -> Choice {
        var findings: [String] = []
        let interval = checkInterval
        if FileIO.exists(vmclockPath) {
            do {
                let snapshot = try VMClockSource.inspect(path: vmclockPath)
                if snapshot.hasGenerationCounter {
                    let how =
                        snapshot.hasNotification ? "notifies on update" : "is checked every \(interval.milliseconds) ms"
                    return Choice(
                        source: VMClockSource(path: vmclockPath, interval: interval),
                        reason: "\(vmclockPath) carries a VM generation counter and \(how)")
                }
                findings.append(
                    "\(vmclockPath): a VMClock without a VM generation counter (flags 0x"
                        + "\(String(snapshot.flags, radix: 16))); declined, its disruption marker is still watched")
            } catch {
                findings.append("\(vmclockPath): unusable (\(error))")
            }
        } else {
            findings.append("\(vmclockPath): absent (VMClock, Linux 7.0+)")
        }
        for (path, label) in [(sysgenidPath, "sysgenid"), (vmgenidPath, "vmgenid")] {
            if FileIO.exists(path) {
                if access(path, R_OK) == 0 {
                    let source: any GenerationSource =
                        label == "sysgenid"
                        ? SysgenidSource(path: path, log: log)
                        : VmgenidSource(path: path, interval: interval)
                    return Choice(source: source, reason: (findings + ["\(path) is readable"]).joined(separator: "; "))
                }
                findings.append("\(path): present but not readable (\(SystemError("access").message))")
            } else {
                findings.append("\(path): absent (\(label) driver)")
            }
        }
        let devices = boundVmgenidDevices()
        if devices.isEmpty {
            findings.append(
                "kmsg: no device is bound to the vmgenid driver (looked in "
                    + vmgenidDriverDirectories.joined(separator: " and ")
                    + "), so the kernel never logs VM forks")
        } else if access(kmsgPath, R_OK) != 0 {
            findings.append(
                "kmsg: the vmgenid driver is bound but \(kmsgPath) is not readable (\(SystemError("access")))")
        } else {
            return Choice(
                source: KmsgSource(path: kmsgPath, warn: log),
                reason: (findings + [
                    "the vmgenid driver is bound (\(devices.joined(separator: ", "))) and the kernel logs each VM fork"
                ]).joined(separator: "; "))
        }
        throw SourceError.unavailable(
            "no VM generation source found on this machine. "
                + findings.joined(separator: "; ")
                + ". Run genidd inside a VM with a VM generation ID device, or use --source file:PATH")
    }
}
