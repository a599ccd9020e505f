import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler that writes one line per event to standard error, as
/// text (`TIME LEVEL message key=value…`) or as a JSON object. Each line goes
/// out in a single `write(2)`, so lines from different threads never interleave.
public struct LineLogHandler: LogHandler {
    /// The output format chosen with `--log-format`.
    public enum Format: String, Sendable, CaseIterable {
        case text
        case json
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let format: Format

    public init(label: String, format: Format, level: Logger.Level) {
        self.label = label
        self.format = format
        logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        event.metadata?.forEach { merged[$0.key] = $0.value }
        let time = Timestamp.rfc3339(milliseconds: MonotonicClock.wallMilliseconds())
        let line: String
        switch format {
        case .text:
            var text = "\(time) \(event.level) \(event.message)"
            for key in merged.keys.sorted() {
                text += " \(key)=\(KeyValueText.quote("\(merged[key]!)", empty: "\"\""))"
            }
            line = text + "\n"
        case .json:
            var members: [(String, JSONValue)] = [
                ("time", .string(time)), ("level", .string("\(event.level)")), ("msg", .string("\(event.message)")),
            ]
            for key in merged.keys.sorted() {
                members.append((key, .string("\(merged[key]!)")))
            }
            line = JSONCodec.encode(.object(members)) + "\n"
        }
        Console.write(line, to: STDERR_FILENO)
    }
}
