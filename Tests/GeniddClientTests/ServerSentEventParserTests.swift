import Testing

@testable import GeniddClient

@Suite("Server-Sent Events parsing")
struct ServerSentEventParserTests {
    @Test("genidd's stream: retry in the first event's block, keepalive lines joining the next block")
    func daemonStream() throws {
        var parser = ServerSentEventParser()
        let text =
            "retry: 2000\nevent: generation\nid: a.7\ndata: {\"seq\":7}\n\n: keepalive\n: keepalive\n"
            + "event: clock-disruption\nid: a.7\ndata: {}\n\n"
        let events = try parser.feed(Array(text.utf8))
        #expect(
            events == [
                ServerSentEvent(type: "generation", id: "a.7", data: "{\"seq\":7}"),
                ServerSentEvent(type: "clock-disruption", id: "a.7", data: "{}"),
            ])
        #expect(parser.retryMilliseconds == 2000)
        #expect(parser.comments == 2)
        #expect(parser.lastEventID == "a.7")
    }

    @Test("the framing of earlier genidd versions (a lone retry block, keepalive blocks) parses the same")
    func earlierDaemonStream() throws {
        var parser = ServerSentEventParser()
        let text = "retry: 2000\n\nevent: generation\nid: 7\ndata: {\"seq\":7}\n\n: keepalive\n\n"
        let events = try parser.feed(Array(text.utf8))
        #expect(events == [ServerSentEvent(type: "generation", id: "7", data: "{\"seq\":7}")])
        #expect(parser.retryMilliseconds == 2000)
        #expect(parser.comments == 1)
        #expect(parser.lastEventID == "7")
    }

    @Test("events split across pieces at every byte, with CRLF, CR and LF line ends")
    func splitPieces() throws {
        let text = "event: generation\r\nid: 1\rdata: a\ndata:b\r\n\r\ndata: second\r\r"
        let bytes = Array(text.utf8)
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for byte in bytes {
            events += try parser.feed([byte])
        }
        #expect(
            events == [
                ServerSentEvent(type: "generation", id: "1", data: "a\nb"),
                ServerSentEvent(type: "message", id: nil, data: "second"),
            ])
    }

    @Test("a block without data dispatches nothing; an event without id has none")
    func noData() throws {
        var parser = ServerSentEventParser()
        let events = try parser.feed(Array("event: x\nid: 3\n\nevent: clock-disruption\ndata: {}\n\n".utf8))
        #expect(events == [ServerSentEvent(type: "clock-disruption", id: nil, data: "{}")])
        #expect(parser.lastEventID == "3")
    }

    @Test("a line longer than the limit is an error")
    func longLine() {
        var parser = ServerSentEventParser()
        let line = [UInt8](repeating: UInt8(ascii: "a"), count: ServerSentEventParser.maximumLineBytes + 1)
        #expect(throws: EventStreamError.self) { try parser.feed(line) }
    }
}

@Suite("Client pieces")
struct ClientPiecesTests {
    @Test("backoff doubles from 100 ms to the cap, with jitter between half and all of each step")
    func backoff() {
        var backoff = ReconnectBackoff(maximumMilliseconds: 5000)
        var random = SystemRandomNumberGenerator()
        for step in [100, 200, 400, 800, 1600, 3200, 5000, 5000] {
            let delay = backoff.nextDelay(using: &random)
            #expect((step / 2...step).contains(delay), "step \(step): \(delay)")
        }
        backoff.reset()
        #expect(backoff.nextDelay(using: &random) <= 100)
    }

    @Test("--url: base URLs are accepted and normalized; others are refused with a reason")
    func addresses() throws {
        #expect(try DaemonAddress(url: "http://127.0.0.1:8080/").transport == .url("http://127.0.0.1:8080"))
        #expect(try DaemonAddress(url: "http://[::1]:8080").transport == .url("http://[::1]:8080"))
        #expect(try DaemonAddress(url: "https://proxy/genidd/").transport == .url("https://proxy/genidd"))
        for bad in ["127.0.0.1:8080", "ftp://host", "http://", "http://host/?x=1", "http://user:pw@host", "not a url"] {
            #expect(throws: (any Error).self, "\(bad)") { try DaemonAddress(url: bad) }
        }
        #expect(throws: (any Error).self) { try DaemonAddress(unixSocket: "") }
        #expect(try DaemonAddress(unixSocket: "/run/genidd/genidd.sock").description.contains("/run/genidd"))
    }

    @Test("a state document: line, environment, and a missing field named")
    func snapshot() throws {
        let text = """
            {"generation":43,"seq":7,"uuid_hash":null,"source":"file:/tmp/a b","changed_at":"2026-01-01T00:00:00.000Z",\
            "instance":"abc","generation_id":"0123456789abcdef0123456789abcdef","stale":false}
            """
        let state = try GenerationSnapshot(text: Array(text.utf8))
        #expect(
            state.line
                == "seq=7 generation=43 source=\"file:/tmp/a b\" stale=false changed_at=2026-01-01T00:00:00.000Z instance=abc uuid_hash= generation_id=0123456789abcdef0123456789abcdef"
        )
        #expect(state.environment.first { $0.0 == "GENIDD_UUID_HASH" }?.1 == "")
        #expect(state.environment.first { $0.0 == "GENIDD_SEQ" }?.1 == "7")
        #expect(state.environment.first { $0.0 == "GENIDD_GENERATION_ID" }?.1 == "0123456789abcdef0123456789abcdef")
        #expect(throws: SnapshotError.self) { try GenerationSnapshot(text: Array("{\"seq\":1}".utf8)) }
    }

    @Test("a state from a genidd without generation_id is read; a generation_id that is not a string is refused")
    func snapshotGenerationID() throws {
        let older = """
            {"generation":1,"seq":2,"uuid_hash":null,"source":"kmsg","changed_at":"2026-01-01T00:00:00.000Z",\
            "instance":"abc","stale":false}
            """
        let state = try GenerationSnapshot(text: Array(older.utf8))
        #expect(state.generationID == nil)
        #expect(state.line.hasSuffix(" uuid_hash= generation_id="))
        #expect(state.environment.first { $0.0 == "GENIDD_GENERATION_ID" }?.1 == "")
        let wrong = older.replacing("\"stale\"", with: "\"generation_id\":7,\"stale\"")
        #expect(throws: SnapshotError.self) { try GenerationSnapshot(text: Array(wrong.utf8)) }
    }
}
