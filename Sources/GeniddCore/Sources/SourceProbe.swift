#if canImport(Glibc)
    import Glibc
#endif

/// Finds what the running kernel offers and builds the source for a
/// ``SourceSpec``. `auto` takes the first usable source in order of preference
/// and explains its choice; when nothing is usable it says what it looked for.
public struct SourceProbe: Sendable {
    /// Where device nodes live (`/dev`; tests point it elsewhere).
    public var deviceRoot: String
    /// Where sysfs is mounted (`/sys`; tests point it elsewhere).
    public var sysfsRoot: String

    public init(deviceRoot: String = "/dev", sysfsRoot: String = "/sys") {
        self.deviceRoot = deviceRoot
        self.sysfsRoot = sysfsRoot
    }

    /// The chosen source and a sentence saying why.
    public struct Choice {
        public let source: any GenerationSource
        public let reason: String
    }

    /// Builds the source for `spec`. `warn` receives a source's warnings later on.
    public func resolve(_ spec: SourceSpec, warn: @escaping @Sendable (String) -> Void) throws -> Choice {
        switch spec {
        case .file(let path):
            return Choice(source: FileCounterSource(path: path), reason: "requested with --source")
        case .kmsg:
            return Choice(source: KmsgSource(path: kmsgPath, warn: warn), reason: "requested with --source")
        case .auto:
            return try choose(warn: warn)
        }
    }

    private var kmsgPath: String { deviceRoot + "/kmsg" }

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

    private func choose(warn: @escaping @Sendable (String) -> Void) throws -> Choice {
        var findings: [String] = []
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
                source: KmsgSource(path: kmsgPath, warn: warn),
                reason:
                    "the vmgenid driver is bound (\(devices.joined(separator: ", "))) and the kernel logs each VM fork")
        }
        throw SourceError(
            "no VM generation source found on this machine. "
                + findings.joined(separator: "; ")
                + ". Run genidd inside a VM with a VM generation ID device, or use --source file:PATH")
    }
}
