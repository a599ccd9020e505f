import Foundation
import Testing

extension DaemonTests {
    @Suite("Strict HTTP: the Host check on TCP and unambiguous framing, each refusal answered as problem+json")
    struct StrictHTTP {
        /// Sends `raw` as is and reads one answer.
        static func raw(_ endpoint: Endpoint, _ raw: String) throws -> HTTPReply {
            let socket = try TestSocket(endpoint)
            try socket.send(raw)
            return try socket.readResponse(timeout: 3)
        }

        @Test(
            "TCP answers IP literals, localhost and --allowed-host names; any other Host gets 421; the Unix socket has no check"
        )
        func hostCheck() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", counter.sourceArgument, "--allowed-host", "genidd.internal"])
            for host in [
                "127.0.0.1", "127.0.0.1:\(daemon.port)", "localhost", "LOCALHOST:1", "app.localhost", "[::1]",
                "[::1]:8080", "10.1.2.3:8080", "genidd.internal", "genidd.internal.:80",
            ] {
                let reply = try Self.raw(daemon.tcp, "GET /v1/generation HTTP/1.1\r\nHost: \(host)\r\n\r\n")
                #expect(reply.status == 200, "Host: \(host)")
            }
            for host in ["evil.example", "evil.example:\(daemon.port)", "127.0.0.1.nip.io", "localhost.evil", "[::1"] {
                for method in ["GET", "DELETE"] {
                    let reply = try Self.raw(
                        daemon.tcp, "\(method) /v1/watchers/x HTTP/1.1\r\nHost: \(host)\r\n\r\n")
                    #expect(reply.status == 421, "Host: \(host)")
                    #expect(reply.header("Content-Type") == "application/problem+json")
                    #expect((reply.json["detail"] as? String)?.contains("--allowed-host") == true)
                }
            }
            let unix = try Self.raw(daemon.unix, "GET /v1/generation HTTP/1.1\r\nHost: evil.example\r\n\r\n")
            #expect(unix.status == 200)
            let metrics = try request(daemon.tcp, "/metrics").text
            #expect(
                Metrics.sample(metrics, "genidd_http_requests_total{route=\"/v1/watchers/{name}\",code=\"421\"}") == 10)
        }

        @Test("ambiguous framing gets 400 and the connection closes: nothing smuggled behind it is served")
        func framing() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let smuggled = "GET /v1/generation HTTP/1.1\r\nHost: localhost\r\n\r\n"
            let cases = [
                (
                    "POST /v1/watchers/x/ack HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, "Transfer-Encoding"
                ),
                (
                    "POST /v1/watchers/x/ack HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc"
                        + smuggled, "Content-Length"
                ),
                (
                    "POST /v1/watchers/x/ack HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\nabc",
                    "chunked"
                ),
                ("GET /v1/generation HTTP/1.1\r\n\r\n", "Host"),
                ("GET /v1/generation HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n", "Host"),
                ("GET /v1%2Fgeneration HTTP/1.1\r\nHost: localhost\r\n\r\n", "%2F"),
                ("DELETE /v1/watchers/victim%00junk HTTP/1.1\r\nHost: localhost\r\n\r\n", "%00"),
                ("GET /v1/watchers/a%0Ab HTTP/1.1\r\nHost: localhost\r\n\r\n", "control"),
            ]
            for (endpoint, label) in [(daemon.tcp, "TCP"), (daemon.unix, "Unix")] {
                for (raw, mention) in cases {
                    let socket = try TestSocket(endpoint)
                    try socket.send(raw)
                    let reply = try socket.readResponse(timeout: 3)
                    #expect(reply.status == 400, "\(label): \(raw.prefix(60))")
                    #expect(reply.header("Content-Type") == "application/problem+json")
                    #expect((reply.json["detail"] as? String)?.contains(mention) == true, "\(reply.text)")
                    #expect(socket.waitForClose(timeout: 2), "the connection closes after the 400")
                    #expect(
                        socket.buffer.isEmpty,
                        "nothing else was answered: \(String(decoding: socket.buffer, as: UTF8.self))")
                }
            }
            // HTTP/1.0 needs no Host.
            #expect(try Self.raw(daemon.tcp, "GET /healthz HTTP/1.0\r\n\r\n").status == 200)
            // The victim of the %00 trick is still there.
            _ = try Watchers.call(daemon, "PUT", "victim")
            let deleted = try Self.raw(
                daemon.tcp, "DELETE /v1/watchers/victim%00junk HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(deleted.status == 400)
            #expect(try request(daemon.tcp, "/v1/watchers/victim").status == 200)
        }

        @Test("too many or too long query arguments always get an answer (414), on both listeners")
        func oversizedQueries() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            for endpoint in [daemon.tcp, daemon.unix] {
                for count in [33, 84, 300] {
                    let query = (0..<count).map { "a\($0)=\($0)" }.joined(separator: "&")
                    let reply = try request(endpoint, "/v1/generation?\(query)", timeout: 3)
                    #expect(reply.status == 414, "\(count) arguments")
                    #expect((reply.json["detail"] as? String)?.contains("arguments") == true)
                }
                let long = try request(
                    endpoint, "/v1/generation?wait=\(String(repeating: "9", count: 1100))", timeout: 3)
                #expect(long.status == 414)
                let huge = try request(endpoint, "/v1/generation?q=\(String(repeating: "x", count: 5000))", timeout: 3)
                #expect([414, 431].contains(huge.status), "got \(huge.status)")
            }
        }
    }
}
