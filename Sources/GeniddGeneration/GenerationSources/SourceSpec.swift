import GeniddSystem

/// A `--source` value.
public enum SourceSpec: Sendable, Equatable, CustomStringConvertible {
    /// Pick the best source this machine offers.
    case auto
    /// VM forks counted from the kernel log (`/dev/kmsg`).
    case kmsg
    /// A decimal counter in a regular file.
    case file(path: String)
    /// The VMClock page's `vm_generation_counter`.
    case vmclock(path: String)
    /// The sysgenid character device (or a file in its layout).
    case sysgenid(path: String)
    /// The vmgenid counter device (or a file in its layout).
    case vmgenid(path: String)
    /// `NEW_VMGENID=1` kernel uevents (Linux 6.8.0–6.8.7).
    case uevent

    static let accepted = "auto, kmsg, file:PATH, vmclock[:PATH], sysgenid[:PATH], vmgenid[:PATH] or uevent"

    /// Parses a `--source` value.
    public init(parsing text: String) throws {
        let (kind, path): (String, String?) = {
            guard let colon = text.firstIndex(of: ":") else { return (text, nil) }
            return (String(text[..<colon]), String(text[text.index(after: colon)...]))
        }()
        if let path, path.isEmpty {
            throw ConfigurationError("'\(text)' needs a path after the colon, for example \(kind):/run/counter")
        }
        switch (kind, path) {
        case ("auto", nil): self = .auto
        case ("kmsg", nil): self = .kmsg
        case ("uevent", nil): self = .uevent
        case ("file", let path?): self = .file(path: path)
        case ("file", nil):
            throw ConfigurationError("'file' needs a path: file:PATH, for example file:/run/genidd-counter")
        case ("vmclock", let path): self = .vmclock(path: path ?? VMClockSource.defaultPath)
        case ("sysgenid", let path): self = .sysgenid(path: path ?? SysgenidSource.defaultPath)
        case ("vmgenid", let path): self = .vmgenid(path: path ?? VmgenidSource.defaultPath)
        default:
            throw ConfigurationError("unknown source '\(text)': expected \(Self.accepted)")
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .kmsg: return "kmsg"
        case .uevent: return "uevent"
        case .file(let path): return "file:\(path)"
        case .vmclock(let path): return "vmclock:\(path)"
        case .sysgenid(let path): return "sysgenid:\(path)"
        case .vmgenid(let path): return "vmgenid:\(path)"
        }
    }
}
