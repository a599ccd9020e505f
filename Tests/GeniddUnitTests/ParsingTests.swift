import Testing

@testable import GeniddGeneration
@testable import GeniddServer
@testable import GeniddSystem

@Suite("Parsing of flags, queries, counters and JSON")
struct ParsingTests {
    @Test("listen addresses")
    func listenAddresses() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:8080") == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(try ListenAddress(parsing: "[::1]:0") == ListenAddress(host: "::1", port: 0))
        #expect(try ListenAddress(parsing: "localhost:9") == ListenAddress(host: "127.0.0.1", port: 9))
        for bad in ["8080", ":8080", "host:", "1.2.3.4:65536", "[::1]8080", "h:x"] {
            #expect(throws: ListenAddressError.self) { try ListenAddress(parsing: bad) }
        }
    }

    @Test("long-poll parameters")
    func longPoll() throws {
        let defaults = try LongPollRequest(wait: nil, timeout: nil)
        #expect(defaults.wait == nil && defaults.timeoutMilliseconds == 30_000)
        let explicit = try LongPollRequest(wait: "7", timeout: "1.25")
        #expect(explicit.wait == StateTag(instance: nil, seq: 7) && explicit.timeoutMilliseconds == 1250)
        #expect(try LongPollRequest(wait: "0", timeout: "300").timeoutMilliseconds == 300_000)
        // The ETag's tag, bare or as sent in the header (quoted, possibly -stale).
        for tag in ["0a1b2c3d4e5f6a7b.9", "\"0a1b2c3d4e5f6a7b.9\"", "\"0a1b2c3d4e5f6a7b.9-stale\""] {
            #expect(try LongPollRequest(wait: tag, timeout: nil).wait == StateTag(instance: "0a1b2c3d4e5f6a7b", seq: 9))
        }
        let bad = [
            ("x", "1"), ("1", "300.001"), ("1", "1e3"), ("1", ".5"), ("1", "5."), ("+1", "1"), ("a.b", "1"),
            (".5", "1"), ("a b.5", "1"), ("a.18446744073709551616", "1"), ("a.", "1"), ("\"", "1"),
        ]
        for (wait, timeout) in bad {
            #expect(throws: HTTPProblem.self) { try LongPollRequest(wait: wait, timeout: timeout) }
        }
    }

    @Test("counter files")
    func counters() throws {
        #expect(try FileCounterSource.parseCounter(Array(" 42\n".utf8)).get() == 42)
        #expect(try FileCounterSource.parseCounter(Array("18446744073709551615".utf8)).get() == UInt64.max)
        #expect(FileCounterSource.parseCounter([]) == .failure(.empty))
        #expect(FileCounterSource.parseCounter(Array("-1".utf8)) == .failure(.notDecimal))
        #expect(FileCounterSource.parseCounter(Array("4 2".utf8)) == .failure(.notDecimal))
        #expect(FileCounterSource.parseCounter(Array("18446744073709551616".utf8)) == .failure(.outOfRange))
    }

    @Test("source specs")
    func sourceSpecs() throws {
        #expect(try SourceSpec(parsing: "auto") == .auto)
        #expect(try SourceSpec(parsing: "kmsg") == .kmsg)
        #expect(try SourceSpec(parsing: "file:/run/x") == .file(path: "/run/x"))
        #expect(throws: ConfigurationError.self) { try SourceSpec(parsing: "file:") }
        #expect(throws: ConfigurationError.self) { try SourceSpec(parsing: "vmclock9") }
    }

    @Test("JSON round trip through json-c, including escapes and 64-bit integers")
    func json() throws {
        let value = JSONValue.object([
            ("big", .uint(UInt64.max)), ("neg", .int(-5)), ("s", .string("a\"b/c\n\u{00e9}")), ("n", .null),
            ("list", .array([.bool(true), .double(1.5)])),
        ])
        let text = JSONCodec.encode(value)
        #expect(text.contains("\"big\":18446744073709551615"))
        #expect(text.contains("a\\\"b/c\\n"))
        #expect(try JSONCodec.decode(Array(text.utf8)) == value)
        #expect(throws: JSONParseError.self) { try JSONCodec.decode(Array("{\"a\":".utf8)) }
        #expect(throws: JSONParseError.self) { try JSONCodec.decode(Array("{} x".utf8)) }
    }

    @Test("timestamps are RFC 3339 UTC with milliseconds")
    func timestamps() {
        #expect(Timestamp.rfc3339(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(milliseconds: 1_795_780_800_123) == "2026-11-27T12:00:00.123Z")
    }
}
