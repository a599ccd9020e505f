#if canImport(Glibc)
    import Glibc
#endif

/// The `file:PATH` source: a decimal counter in a regular file, watched with
/// inotify on its directory so that both in-place writes and atomic replacement
/// by rename are seen. For tests, demos, guest agents and CRIU setups.
public final class FileCounterSource: GenerationSource {
    public let name: String
    public let notification = ChangeNotification.inotify
    public let checkInterval: Int? = nil
    public private(set) var descriptor: Int32 = -1

    private let path: String
    private let directory: String
    private let fileName: String
    private var buffer = [UInt8](repeating: 0, count: 4096)

    public init(path: String) {
        self.path = path
        name = "file:" + path
        if let slash = path.lastIndex(of: "/") {
            let parent = String(path[..<slash])
            directory = parent.isEmpty ? "/" : parent
            fileName = String(path[path.index(after: slash)...])
        } else {
            directory = "."
            fileName = path
        }
    }

    public func open(resume: SourceCheckpoint?) throws -> SourceEvent {
        close()
        let fd = try SystemError.check(inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)), "inotify_init1")
        let mask =
            UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_MOVED_FROM) | UInt32(IN_DELETE)
            | UInt32(IN_ATTRIB) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_ONLYDIR)
        if inotify_add_watch(fd, directory, mask) < 0 {
            let error = SystemError("inotify_add_watch", path: directory)
            Glibc.close(fd)
            throw error
        }
        descriptor = fd
        return readCounter()
    }

    public func check() throws -> [SourceEvent] {
        var relevant = false
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { break }
                throw SystemError("read", path: "inotify(\(directory))")
            }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (mask, nameLength) = buffer.withUnsafeBytes { raw in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.mask, Int(event.len))
                }
                let nameStart = offset + MemoryLayout<inotify_event>.size
                if mask & (UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_IGNORED)) != 0 {
                    throw SourceError("\(directory): the directory holding the counter file was removed or moved")
                }
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    relevant = true
                }
                if nameLength > 0 {
                    let nameBytes = buffer[nameStart..<(nameStart + nameLength)].prefix { $0 != 0 }
                    if nameBytes.elementsEqual(fileName.utf8) {
                        relevant = true
                    }
                }
                offset = nameStart + nameLength
            }
        }
        return relevant ? [readCounter()] : []
    }

    public func close() {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }

    deinit {
        close()
    }

    private func readCounter() -> SourceEvent {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readSmallFile(path, limit: 256)
        } catch {
            return .failure("\(error)")
        }
        switch Self.parseCounter(bytes) {
        case .success(let value):
            return .reading(SourceReading(generation: value))
        case .failure(let problem):
            return .failure("\(path): \(problem.description)")
        }
    }

    /// A decimal counter with optional surrounding whitespace.
    public static func parseCounter(_ bytes: [UInt8]) -> Result<UInt64, CounterFormatError> {
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        if text.isEmpty {
            return .failure(.empty)
        }
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return .failure(.notDecimal)
        }
        guard let value = UInt64(text) else {
            return .failure(.outOfRange)
        }
        return .success(value)
    }
}

/// Why a counter file's contents were rejected.
public enum CounterFormatError: Error, CustomStringConvertible, Sendable, Equatable {
    case empty
    case notDecimal
    case outOfRange

    public var description: String {
        switch self {
        case .empty: return "the file is empty (expected a decimal counter)"
        case .notDecimal: return "the file does not hold a decimal counter"
        case .outOfRange: return "the counter does not fit in 64 bits"
        }
    }
}
