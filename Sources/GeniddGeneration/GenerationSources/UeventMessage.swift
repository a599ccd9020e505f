import GeniddSystem

/// A kernel uevent as broadcast on `NETLINK_KOBJECT_UEVENT`:
/// `ACTION@DEVPATH\0` followed by `KEY=VALUE\0` pairs. Messages that udev
/// re-broadcasts start with `libudev\0` and are not kernel uevents.
struct UeventMessage: Sendable, Equatable {
    var action: String
    var devicePath: String
    var environment: [String: String]

    /// Parses a datagram, or returns nil when it is not a kernel uevent.
    static func parse<Bytes: Collection>(_ bytes: Bytes) -> UeventMessage?
    where Bytes.Element == UInt8 {
        let fields = bytes.split(separator: 0, omittingEmptySubsequences: true).map {
            String(decoding: $0, as: UTF8.self)
        }
        guard let header = fields.first, let at = header.firstIndex(of: "@") else { return nil }
        var environment: [String: String] = [:]
        for field in fields.dropFirst() {
            guard let equals = field.firstIndex(of: "=") else { continue }
            environment[String(field[..<equals])] = String(field[field.index(after: equals)...])
        }
        return UeventMessage(
            action: String(header[..<at]), devicePath: String(header[header.index(after: at)...]),
            environment: environment)
    }

    /// True for the uevent Linux 6.8.0–6.8.7's vmgenid driver sends on a new
    /// VM generation: a `change` of a device bound to `vmgenid` carrying `NEW_VMGENID=1`.
    var isNewVMGeneration: Bool {
        action == "change" && environment["NEW_VMGENID"] == "1" && environment["DRIVER"] == "vmgenid"
    }
}
