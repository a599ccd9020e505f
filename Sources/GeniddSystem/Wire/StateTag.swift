/// What a client last saw of genidd's state: a bare `seq`, meaningful within
/// the current instance, or the ETag's tag `<instance>.<seq>`, which also
/// names the series (a state from another instance never matches it).
///
/// Accepted wherever a client says what it has seen: `wait=` of a long-poll,
/// `Last-Event-ID`, `genidd wait --since`.
public struct StateTag: Sendable, Equatable, CustomStringConvertible {
    /// The instance, or nil for a bare `seq`.
    public var instance: String?
    public var seq: UInt64

    init(instance: String?, seq: UInt64) {
        self.instance = instance
        self.seq = seq
    }

    /// `7`, `INSTANCE.7`, or the ETag as sent (`"INSTANCE.7"`, possibly with
    /// a `-stale` suffix); nil for anything else.
    public init?(parsing text: String) {
        var tag = Substring(text)
        if tag.count >= 2, tag.hasPrefix("\""), tag.hasSuffix("\"") {
            tag = tag.dropFirst().dropLast()
        }
        if tag.hasSuffix("-stale") {
            tag = tag.dropLast(6)
        }
        var instance: String?
        var digits = tag
        if let dot = tag.lastIndex(of: ".") {
            instance = String(tag[..<dot])
            digits = tag[tag.index(after: dot)...]
            guard let instance, Self.isValidInstance(instance) else { return nil }
        }
        guard !digits.isEmpty, digits.count <= 20, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let seq = UInt64(digits)
        else { return nil }
        self.init(instance: instance, seq: seq)
    }

    /// Instances are 1-64 of `A-Z a-z 0-9 - _`: they go into ETags and SSE
    /// `id` lines, and a `.` would make `<instance>.<seq>` ambiguous.
    public static func isValidInstance(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
                    || byte == 0x2d || byte == 0x5f
            }
    }

    /// The full tag, taking the instance from `current` when this one is bare.
    public func qualified(by currentInstance: String) -> String {
        "\(instance ?? currentInstance).\(seq)"
    }

    public var description: String {
        instance.map { "\($0).\(seq)" } ?? String(seq)
    }
}
