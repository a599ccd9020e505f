import Foundation
import Testing

extension DaemonTests {
    @Suite("GET /v1/generation and the small routes")
    struct GenerationEndpoint {
        @Test("fields and headers are as the API contract says, on TCP and on the Unix socket")
        func fieldsAndHeaders() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "42")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            for endpoint in [daemon.tcp, daemon.unix] {
                let reply = try request(endpoint, "/v1/generation")
                #expect(reply.status == 200)
                #expect(reply.header("Content-Type") == "application/json")
                #expect(reply.header("Cache-Control") == "no-store")
                let body = reply.json
                #expect(body["generation"] as? Int == 42)
                #expect(body["seq"] as? Int == 1)
                #expect(body["uuid_hash"] is NSNull)
                #expect(body["source"] as? String == counter.sourceArgument)
                #expect(body["stale"] as? Bool == false)
                let instance = try #require(body["instance"] as? String)
                #expect(!instance.isEmpty)
                #expect(reply.header("ETag") == "\"\(instance).1\"")
                let changedAt = try #require(body["changed_at"] as? String)
                #expect(
                    changedAt.range(
                        of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#,
                        options: String.CompareOptions.regularExpression) != nil)
                let generationID = try #require(body["generation_id"] as? String)
                #expect(generationID.range(of: "^[0-9a-f]{32}$", options: .regularExpression) != nil, "\(generationID)")
                #expect(
                    reply.text.contains("\"instance\":\"\(instance)\",\"generation_id\":\"\(generationID)\","),
                    "generation_id follows instance: \(reply.text)")
                #expect(
                    Set(body.keys) == [
                        "generation", "seq", "uuid_hash", "source", "changed_at", "instance", "generation_id", "stale",
                    ])
            }
        }

        @Test("If-None-Match with the current ETag gives 304; a stale tag gives 200")
        func conditionalRequests() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let first = try request(daemon.tcp, "/v1/generation")
            let tag = try #require(first.header("ETag"))
            let notModified = try request(daemon.tcp, "/v1/generation", headers: [("If-None-Match", tag)])
            #expect(notModified.status == 304)
            #expect(notModified.header("ETag") == tag)
            #expect(notModified.body.isEmpty)
            let listed = try request(daemon.tcp, "/v1/generation", headers: [("If-None-Match", "\"other\", \(tag)")])
            #expect(listed.status == 304)
            try counter.write("2")
            try waitForSeq(daemon, 2)
            let changed = try request(daemon.tcp, "/v1/generation", headers: [("If-None-Match", tag)])
            #expect(changed.status == 200)
            #expect(changed.header("ETag") != tag)
        }

        @Test("keep-alive: several requests share one connection")
        func keepAlive() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let socket = try TestSocket(daemon.tcp)
            for _ in 0..<3 {
                try socket.sendRequest("GET", "/v1/generation")
                let reply = try socket.readResponse(timeout: 5)
                #expect(reply.status == 200)
                #expect(reply.header("Connection")?.lowercased() != "close")
            }
        }

        @Test("unknown paths, wrong methods, bodies and bad parameters give problem+json")
        func errors() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let missing = try request(daemon.tcp, "/v2/generation")
            #expect(missing.status == 404)
            #expect(missing.header("Content-Type") == "application/problem+json")
            #expect(missing.json["status"] as? Int == 404)
            #expect(missing.json["title"] as? String == "Not Found")

            let wrongMethod = try request(daemon.tcp, "/v1/generation", method: "POST", body: "")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.header("Allow") == "GET, HEAD, OPTIONS")
            #expect(wrongMethod.json["detail"] as? String != nil)

            let tooLarge = try request(
                daemon.tcp, "/v1/generation", method: "GET", body: String(repeating: "x", count: 5000))
            #expect(tooLarge.status == 413)
            #expect(tooLarge.header("Content-Type") == "application/problem+json")

            for query in [
                "wait=abc", "wait=-1", "wait=", "wait=1&timeout=301", "wait=1&timeout=-2", "wait=1&timeout=x",
                "wait=1&timeout=1.2345", "wait=1&wait=2", "wait=99999999999999999999999",
            ] {
                let reply = try request(daemon.tcp, "/v1/generation?\(query)")
                #expect(reply.status == 400, "query \(query)")
                #expect(reply.header("Content-Type") == "application/problem+json", "query \(query)")
                #expect(reply.json["status"] as? Int == 400)
                #expect((reply.json["detail"] as? String)?.isEmpty == false)
            }
            let hugeHeader = try request(
                daemon.tcp, "/v1/generation", headers: [("X-Padding", String(repeating: "a", count: 6000))])
            #expect(hugeHeader.status == 431)

            // Many query arguments or a long query always get an answer: 414
            // before libmicrohttpd could run out of connection memory parsing them.
            for count in [33, 59, 84, 500] {
                let manyArguments = (0..<count).map { "x\($0)=a" }.joined(separator: "&")
                let reply = try request(daemon.tcp, "/healthz?\(manyArguments)", timeout: 3)
                #expect(reply.status == 414, "\(count) arguments")
                #expect(reply.header("Content-Type") == "application/problem+json")
            }
            #expect(
                try request(daemon.tcp, "/healthz?\((0..<32).map { "x\($0)" }.joined(separator: "&"))").status == 200)
            let longLine = try request(
                daemon.tcp, "/healthz?q=\(String(repeating: "a", count: 3900))", timeout: 3)
            #expect(longLine.status == 414, "got \(longLine.status)")

            let head = try request(daemon.tcp, "/v1/generation", method: "HEAD")
            #expect(head.status == 200)
        }

        @Test("healthz answers 200; readyz answers 200 with the source")
        func health() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let health = try request(daemon.unix, "/healthz")
            #expect(health.status == 200)
            #expect(health.json["status"] as? String == "ok")
            let ready = try request(daemon.unix, "/readyz")
            #expect(ready.status == 200)
            #expect(ready.json["source"] as? String == counter.sourceArgument)
        }

        @Test("connections past --max-connections get a clear 503")
        func connectionLimit() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: [
                    "--source", counter.sourceArgument, "--max-connections", "5", "--max-connections-per-peer", "5",
                ])
            let held = try (0..<5).map { _ in try EventStreamClient(daemon.tcp) }
            #expect(held.allSatisfy { $0.status == 200 })
            let refused = try request(daemon.tcp, "/v1/generation")
            #expect(refused.status == 503)
            #expect(refused.header("Retry-After") == "1")
            #expect((refused.json["detail"] as? String)?.contains("too many open connections") == true)
        }
    }
}

/// Polls until the daemon reports `seq` (or fails after 5 s).
func waitForSeq(_ daemon: DaemonProcess, _ seq: Int, timeout: Double = 5) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try request(daemon.tcp, "/v1/generation").json["seq"] as? Int == seq {
            return
        }
        Thread.sleep(forTimeInterval: 0.01)
    }
    throw DaemonTestError("seq never reached \(seq)\n\(daemon.log)")
}
