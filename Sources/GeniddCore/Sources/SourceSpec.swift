/// A `--source` value.
public enum SourceSpec: Sendable, Equatable, CustomStringConvertible {
    /// Pick the best source this machine offers.
    case auto
    /// VM forks counted from the kernel log (`/dev/kmsg`).
    case kmsg
    /// A decimal counter in a regular file.
    case file(path: String)

    /// Parses `auto`, `kmsg` or `file:PATH`.
    public init(parsing text: String) throws {
        switch text {
        case "auto":
            self = .auto
        case "kmsg":
            self = .kmsg
        default:
            if text.hasPrefix("file:") {
                let path = String(text.dropFirst(5))
                guard !path.isEmpty else {
                    throw SourceError("--source file:PATH needs a path, for example file:/run/genidd-counter")
                }
                self = .file(path: path)
                return
            }
            throw SourceError("unknown source '\(text)': expected auto, kmsg or file:PATH")
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .kmsg: return "kmsg"
        case .file(let path): return "file:\(path)"
        }
    }
}
