import GeniddSystem

/// One record read from `/dev/kmsg`: `PRI,SEQ,TIMESTAMP,FLAGS[,...];MESSAGE\n`
/// followed by optional ` KEY=VALUE` lines (Documentation/ABI/testing/dev-kmsg).
struct KmsgRecord: Sendable, Equatable {
    /// Syslog facility: 0 only for messages printed by the kernel itself.
    /// `/dev/kmsg` writers from userspace always get a non-zero facility.
    var facility: Int
    var level: Int
    var sequence: UInt64
    var timestampMicroseconds: UInt64
    /// The message text, with the kernel's `\xNN` escapes left as they are.
    var message: String

    /// Parses one record, or returns nil when the bytes are not a record.
    static func parse<Bytes: Collection>(_ bytes: Bytes) -> KmsgRecord?
    where Bytes.Element == UInt8 {
        guard let semicolon = bytes.firstIndex(of: UInt8(ascii: ";")) else { return nil }
        let prefix = bytes[bytes.startIndex..<semicolon].split(
            separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard prefix.count >= 4,
            let priority = decimal(prefix[0]), priority <= UInt64(Int32.max),
            let sequence = decimal(prefix[1]),
            let timestamp = decimal(prefix[2])
        else { return nil }
        var messageEnd = bytes.index(after: semicolon)
        while messageEnd != bytes.endIndex && bytes[messageEnd] != UInt8(ascii: "\n") {
            messageEnd = bytes.index(after: messageEnd)
        }
        let message = String(decoding: bytes[bytes.index(after: semicolon)..<messageEnd], as: UTF8.self)
        return KmsgRecord(
            facility: Int(priority >> 3), level: Int(priority & 7), sequence: sequence,
            timestampMicroseconds: timestamp, message: message)
    }

    private static func decimal<Digits: Collection>(_ digits: Digits) -> UInt64? where Digits.Element == UInt8 {
        guard !digits.isEmpty, digits.count <= 20 else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(digit - UInt8(ascii: "0")))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }
}
