/// Parses durations given on the command line: `15` or `15s` (seconds),
/// `1.5s`, `250ms`, `10m` or `1h`.
enum DurationArgument {
    /// Milliseconds, or nil when `text` is not a duration.
    static func milliseconds(_ text: String) -> Int? {
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
        return Int(milliseconds.rounded())
    }

    /// `2 s` for 2000, `1500 ms` for 1500: a duration for messages.
    static func text(_ milliseconds: Int) -> String {
        milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}
