import GeniddGeneration
import GeniddSystem

/// Facts about a request's raw target (`/v1/generation?wait=7`), taken
/// before libmicrohttpd decodes the path (`%2F` becomes `/`, `%00` ends the
/// string) or parses the query: what the server must refuse but could not
/// see in the decoded form.
struct RequestTarget: Sendable, Equatable {
    /// Bytes of the whole target.
    var length = 0
    /// Query arguments (`&`-separated parts of the query).
    var queryArguments = 0
    /// Bytes of the query (after `?`).
    var queryBytes = 0
    /// The path holds an encoded `/`, `\`, NUL or other control character.
    var pathHasEncodedSeparator = false
    /// The query exceeded the limits and was dropped before parsing (the
    /// request is answered 414).
    var queryDropped = false

    /// More arguments than this, or a longer query, is `414`: each parsed
    /// argument costs connection memory, and a request that runs out of it
    /// would get no answer at all.
    static let maximumQueryArguments = 32
    static let maximumQueryBytes = 1024

    init() {}

    /// Scans a raw target.
    init(raw: UnsafeBufferPointer<UInt8>) {
        length = raw.count
        let question = raw.firstIndex(of: UInt8(ascii: "?")) ?? raw.count
        var index = 0
        while index + 2 < question {
            if raw[index] == UInt8(ascii: "%"), let high = Self.hex(raw[index + 1]), let low = Self.hex(raw[index + 2])
            {
                let byte = high << 4 | low
                if byte < 0x20 || byte == 0x7f || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") {
                    pathHasEncodedSeparator = true
                }
                index += 3
            } else {
                index += 1
            }
        }
        if question < raw.count {
            queryBytes = raw.count - question - 1
            var previous = UInt8(ascii: "&")
            for byte in raw[(question + 1)...] {
                if previous == UInt8(ascii: "&") && byte != UInt8(ascii: "&") {
                    queryArguments += 1
                }
                previous = byte
            }
        }
    }

    /// True when the query must not be parsed.
    var queryTooLarge: Bool {
        queryArguments > Self.maximumQueryArguments || queryBytes > Self.maximumQueryBytes
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
