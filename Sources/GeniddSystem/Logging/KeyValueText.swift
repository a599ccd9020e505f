/// Quoting for `key=value` text: genidd's text log lines and the line
/// `genidd get` prints. A value with spaces, quotes, backslashes, `=` or
/// newlines is written in double quotes, with `\"`, `\\` and `\n` escapes, so
/// that the line splits back into its fields.
public enum KeyValueText {
    /// `value` as it appears after `key=`. An empty value is written as `empty`.
    public static func quote(_ value: String, empty: String = "") -> String {
        if value.isEmpty {
            return empty
        }
        if !value.contains(where: { $0 == " " || $0 == "\"" || $0 == "\\" || $0 == "=" || $0.isNewline }) {
            return value
        }
        var escaped = "\""
        for character in value {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped + "\""
    }
}
