import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The `file:PATH` source: a decimal counter in a regular file, watched with
/// inotify on its directory (``PathWatch``) so that both writes and atomic
/// replacement by rename are seen. For tests, demos, guest agents and CRIU setups.
public final class FileCounterSource: GenerationSource {
    public let name: String
    public let notification = ChangeNotification.inotify
    public let checkInterval: Duration? = nil
    public var descriptor: Int32 { watch?.descriptor ?? -1 }

    private let path: String
    private var watch: PathWatch?

    public init(path: String) {
        self.path = path
        name = "file:" + path
    }

    public func open(resume: SourceCheckpoint?) throws -> SourceEvent {
        watch = try PathWatch(path: path)
        return readCounter()
    }

    public func check() throws -> [SourceEvent] {
        guard let watch, try watch.drain().any else { return [] }
        return [readCounter()]
    }

    public func close() {
        watch = nil
    }

    public func makeBumper() -> (any GenerationBumper)? {
        FileCounterBumper(path: path)
    }

    private func readCounter() -> SourceEvent {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readSmallFile(path, limit: 256)
        } catch {
            return .failure(SourceError(error))
        }
        switch Self.parseCounter(bytes) {
        case .success(let value):
            return .reading(SourceReading(generation: value))
        case .failure(let problem):
            return .failure(.malformed("\(path): \(problem.description)"))
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
