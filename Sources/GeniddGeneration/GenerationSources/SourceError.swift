import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Why a source cannot be read, with a message that names the file or
/// device and says what to do. The case is what metrics count
/// (`genidd_source_errors_total{reason}`); the message is what `/readyz` and
/// the log show.
public enum SourceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The device or file is not there, vanished, or was replaced.
    case missing(String)
    /// genidd may not open or read it.
    case permission(String)
    /// It is there but holds something genidd cannot use.
    case malformed(String)
    /// Reading or waiting on it failed.
    case io(String)
    /// No usable source was found (`--source auto`).
    case unavailable(String)

    /// The metric label of each case.
    public enum Reason: String, Sendable, CaseIterable {
        case missing, permission, malformed, io, unavailable
    }

    var reason: Reason {
        switch self {
        case .missing: return .missing
        case .permission: return .permission
        case .malformed: return .malformed
        case .io: return .io
        case .unavailable: return .unavailable
        }
    }

    public var description: String {
        switch self {
        case .missing(let text), .permission(let text), .malformed(let text), .io(let text),
            .unavailable(let text):
            return text
        }
    }

    /// Any error a source threw, classified: system call failures by their
    /// errno, file checks as malformed contents.
    init(_ error: any Error) {
        switch error {
        case let error as SourceError:
            self = error
        case let error as SystemError:
            switch error.code {
            case ENOENT, ENODEV, ENXIO, ENOTDIR:
                self = .missing("\(error)")
            case EACCES, EPERM, EROFS:
                self = .permission("\(error)")
            default:
                self = .io("\(error)")
            }
        case let error as FileIOError:
            self = .malformed("\(error)")
        default:
            self = .io("\(error)")
        }
    }
}
