import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The `file:PATH` source: a decimal counter in a regular file, watched with
/// inotify on its directory (``PathWatch``) so that both writes and atomic
/// replacement by rename are seen. For tests, demos, guest agents and CRIU setups.
final class FileCounterSource: GenerationSource {
    let name: String
    let notification = ChangeNotification.inotify
    let checkInterval: Duration? = nil
    var descriptor: Int32 { watch?.descriptor ?? -1 }

    private let path: String
    private var watch: PathWatch?

    init(path: String) {
        self.path = path
        name = "file:" + path
    }

    func open(resume: SourceCheckpoint?) throws -> SourceEvent {
        watch = try PathWatch(path: path)
        return readCounter()
    }

    func check() throws -> [SourceEvent] {
        guard let watch, try watch.drain().any else { return [] }
        return [readCounter()]
    }

    func close() {
        watch = nil
    }

    func makeBumper() -> (any GenerationBumper)? {
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
    static func parseCounter(_ bytes: [UInt8]) -> Result<UInt64, CounterFormatError> {
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
enum CounterFormatError: Error, CustomStringConvertible, Sendable, Equatable {
    case empty
    case notDecimal
    case outOfRange

    var description: String {
        switch self {
        case .empty: return "the file is empty (expected a decimal counter)"
        case .notDecimal: return "the file does not hold a decimal counter"
        case .outOfRange: return "the counter does not fit in 64 bits"
        }
    }
}
