/// Durations as people write them on command lines and in environment
/// variables: `15` or `15s` (seconds), `1.5s`, `250ms`, `10m` or `1h`.
public enum DurationText {
    /// The duration, or nil when `text` is not one (or is under 1 ms or over a day).
    public static func parse(_ text: String) -> Duration? {
        var number = Substring(text)
        var scale = 1000.0
        if number.hasSuffix("ms") {
            number = number.dropLast(2)
            scale = 1
        } else if number.hasSuffix("s") {
            number = number.dropLast()
        } else if number.hasSuffix("m") {
            number = number.dropLast()
            scale = 60_000
        } else if number.hasSuffix("h") {
            number = number.dropLast()
            scale = 3_600_000
        }
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            let value = Double(number), value.isFinite
        else { return nil }
        let milliseconds = value * scale
        guard milliseconds >= 1, milliseconds <= 86_400_000 else { return nil }
        return .milliseconds(Int64(milliseconds.rounded()))
    }

    /// `2 s` for two seconds, `1500 ms` otherwise: a duration for messages.
    public static func describe(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
