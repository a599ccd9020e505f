import Foundation
import Testing

extension DaemonTests {
    @Suite("Watchers that acknowledge, and the orchestrator's wait")
    struct Watchers {
        /// The secret these tests' TCP clients prove ownership of their watchers with.
        static let secret = ("Genidd-Watcher-Secret", "test-secret-0123456789")

        static func ack(_ daemon: DaemonProcess, _ name: String, _ seq: Int) throws -> HTTPReply {
            try request(
                daemon.tcp, "/v1/watchers/\(name)/ack", method: "POST",
                headers: [("Content-Type", "application/json"), secret], body: "{\"seq\":\(seq)}")
        }

        /// `PUT` or `DELETE /v1/watchers/NAME` over TCP, with the tests' secret.
        static func call(_ daemon: DaemonProcess, _ method: String, _ name: String) throws -> HTTPReply {
            try request(daemon.tcp, "/v1/watchers/\(name)", method: method, headers: [secret])
        }

        @Test("register, become outdated on a change, refuse stale and future seqs, acknowledge")
        func lifecycle() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let created = try Self.call(daemon, "PUT", "app-1")
            #expect(created.status == 201)
            #expect(created.json["acked_seq"] as? Int == 1)
            #expect(created.json["outdated"] as? Bool == false)
            #expect(try Self.call(daemon, "PUT", "app-1").status == 200)

            try counter.write("2")
            try waitForSeq(daemon, 2)
            let list = try request(daemon.tcp, "/v1/watchers").json
            #expect(list["outdated"] as? Int == 1)
            #expect(list["seq"] as? Int == 2)
            let entry = (list["watchers"] as? [[String: Any]])?.first
            #expect(entry?["name"] as? String == "app-1")
            #expect(entry?["outdated"] as? Bool == true)
            #expect(entry?["connected"] as? Bool == false)

            let stale = try Self.ack(daemon, "app-1", 1)
            #expect(stale.status == 409)
            #expect((stale.json["detail"] as? String)?.contains("stale") == true)
            let future = try Self.ack(daemon, "app-1", 3)
            #expect(future.status == 409)
            #expect((future.json["detail"] as? String)?.contains("not happened yet") == true)
            let good = try Self.ack(daemon, "app-1", 2)
            #expect(good.status == 200)
            #expect(good.json["outdated"] as? Bool == false)
            #expect(try request(daemon.tcp, "/v1/watchers").json["outdated"] as? Int == 0)

            #expect(try Self.ack(daemon, "nobody", 2).status == 404)
            #expect(try Self.call(daemon, "DELETE", "app-1").status == 204)
            #expect(try Self.call(daemon, "DELETE", "app-1").status == 404)
            #expect(try request(daemon.tcp, "/v1/watchers/app-1").status == 404)
        }

        @Test("bad names and bodies are rejected with problem+json")
        func badInput() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            for name in [".hidden", String(repeating: "a", count: 65), "sp%20ace", "semi;colon"] {
                #expect(try Self.call(daemon, "PUT", "\(name)").status == 400, "\(name)")
            }
            #expect(try request(daemon.tcp, "/v1/events?watcher=bad%2Fname").status == 400)
            _ = try Self.call(daemon, "PUT", "ok")
            let text = try request(
                daemon.tcp, "/v1/watchers/ok/ack", method: "POST", headers: [("Content-Type", "text/plain")],
                body: "1")
            #expect(text.status == 415)
            let garbage = try request(
                daemon.tcp, "/v1/watchers/ok/ack", method: "POST",
                headers: [("Content-Type", "application/json"), Self.secret],
                body: "{\"seq\":")
            #expect(garbage.status == 400)
            let negative = try request(
                daemon.tcp, "/v1/watchers/ok/ack", method: "POST",
                headers: [("Content-Type", "application/json"), Self.secret],
                body: "{\"seq\":-1}")
            #expect(negative.status == 400)
            #expect(try request(daemon.tcp, "/v1/watchers?wait=soon").status == 400)
            #expect(
                try request(daemon.tcp, "/v1/watchers?timeout=abc").status == 400, "timeout is checked without wait")
            #expect(try request(daemon.tcp, "/v1/watchers?timeout=").status == 400)
            #expect(try request(daemon.tcp, "/v1/watchers?wait=outdated-zero&wait=bogus").status == 400)
            let huge = try request(
                daemon.tcp, "/v1/watchers/ok/ack", method: "POST",
                headers: [("Content-Type", "application/json"), Self.secret],
                body: "{\"seq\":18446744073709551616}")
            #expect(huge.status == 400, "a seq beyond 64 bits is an error, not a saturated value")
            #expect(try request(daemon.tcp, "/v1/watchers/ok/ack").status == 405)
        }

        @Test("wait=outdated-zero blocks until the last watcher acknowledges, or the timeout")
        func orchestratorWait() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let stream = try EventStreamClient(daemon.tcp, path: "/v1/events?watcher=sse-app", headers: [Self.secret])
            _ = stream.nextEvent(timeout: 5)
            _ = try Self.call(daemon, "PUT", "poller")
            #expect(try request(daemon.tcp, "/v1/watchers?wait=outdated-zero&timeout=5").json["outdated"] as? Int == 0)

            try counter.write("2")
            #expect(stream.nextEvent(timeout: 5)?.id?.hasSuffix(".2") == true)
            let timedOut = try request(daemon.tcp, "/v1/watchers?wait=outdated-zero&timeout=0.3")
            #expect(timedOut.json["outdated"] as? Int == 2)
            let listed = timedOut.json["watchers"] as? [[String: Any]] ?? []
            let connected = listed.first { $0["name"] as? String == "sse-app" }
            #expect(connected?["connected"] as? Bool == true)

            let orchestrator = try TestSocket(daemon.tcp)
            try orchestrator.sendRequest("GET", "/v1/watchers?wait=outdated-zero&timeout=30")
            #expect(try Self.ack(daemon, "sse-app", 2).status == 200)
            #expect(!orchestrator.fill(timeout: 0.3), "one watcher is still outdated")
            let start = Date()
            #expect(try Self.ack(daemon, "poller", 2).status == 200)
            let answer = try orchestrator.readResponse(timeout: 5)
            #expect(answer.json["outdated"] as? Int == 0)
            #expect(Date().timeIntervalSince(start) < 0.5)
        }

        @Test("watchers that vanish expire after --watcher-expiry, visibly")
        func expiry() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", counter.sourceArgument, "--watcher-expiry", "1s", "--heartbeat", "200ms"])
            var stream: EventStreamClient? = try EventStreamClient(daemon.tcp, path: "/v1/events?watcher=gone")
            _ = stream?.nextEvent(timeout: 5)
            _ = try Self.call(daemon, "PUT", "poller")
            try counter.write("2")
            try waitForSeq(daemon, 2)
            Thread.sleep(forTimeInterval: 1.3)
            // Connected watchers never expire.
            let names = (try request(daemon.tcp, "/v1/watchers").json["watchers"] as? [[String: Any]] ?? [])
                .compactMap { $0["name"] as? String }
            #expect(names == ["gone"])
            stream = nil
            let orchestrator = try request(daemon.tcp, "/v1/watchers?wait=outdated-zero&timeout=5").json
            #expect(orchestrator["outdated"] as? Int == 0, "expiry releases the orchestrator")
            let expired = (orchestrator["expired"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(Set(expired) == ["gone", "poller"])
            #expect(daemon.log.contains("watcher expired"))
        }

        /// The watchers list as name → (acked_seq, outdated).
        static func listed(_ daemon: DaemonProcess) throws -> [String: (acked: Int?, outdated: Bool)] {
            let list = try request(daemon.tcp, "/v1/watchers").json["watchers"] as? [[String: Any]] ?? []
            var result: [String: (acked: Int?, outdated: Bool)] = [:]
            for entry in list {
                guard let name = entry["name"] as? String else { continue }
                result[name] = (entry["acked_seq"] as? Int, entry["outdated"] as? Bool ?? false)
            }
            return result
        }

        @Test("watchers survive restarts with their acknowledgements; wait=outdated-zero keeps waiting for them")
        func survivesRestart() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            var daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            #expect(try Self.call(daemon, "PUT", "app").status == 201)
            #expect(try Self.call(daemon, "PUT", "batch").status == 201)
            try counter.replace("2")
            try waitForSeq(daemon, 2)
            #expect(try Self.ack(daemon, "app", 2).status == 200)
            #expect(daemon.terminate()?.status == 0)

            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            var watchers = try Self.listed(daemon)
            #expect(watchers["app"]?.acked == 2 && watchers["app"]?.outdated == false)
            #expect(watchers["batch"]?.acked == 1 && watchers["batch"]?.outdated == true)
            let start = Date()
            let waited = try request(daemon.tcp, "/v1/watchers?wait=outdated-zero&timeout=0.5").json
            #expect(
                Date().timeIntervalSince(start) >= 0.4, "the restored outdated watcher keeps the orchestrator waiting")
            #expect(waited["outdated"] as? Int == 1)

            // A crash right after a registration keeps it too (saved within 100 ms).
            #expect(try Self.call(daemon, "PUT", "late").status == 201)
            Thread.sleep(forTimeInterval: 0.5)
            kill(daemon.process.processIdentifier, SIGKILL)
            daemon.process.waitUntilExit()
            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            watchers = try Self.listed(daemon)
            #expect(Set(watchers.keys) == ["app", "batch", "late"])
            #expect(try Self.ack(daemon, "batch", 2).status == 200)
            #expect(try request(daemon.tcp, "/v1/watchers?wait=outdated-zero&timeout=5").json["outdated"] as? Int == 0)
            #expect(daemon.terminate()?.status == 0)

            // When the saved series is lost (a corrupt state file), acknowledgements mean nothing any more.
            try Data("garbage".utf8).write(to: URL(fileURLWithPath: daemon.stateDirectory + "/state.json"))
            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            watchers = try Self.listed(daemon)
            #expect(Set(watchers.keys) == ["app", "batch", "late"])
            #expect(watchers.values.allSatisfy { $0.acked == nil && $0.outdated }, "\(watchers)")
        }

        @Test(
            "watchers belong to their creator's uid on the Unix socket: another user cannot refresh, acknowledge or delete them; an admin can",
            .enabled(if: getuid() == 0, "switching to a second user needs root"))
        func ownedByUID() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", counter.sourceArgument, "--unix-mode", "0666", "--admin-uid", "0"])
            func call(_ uid: Int, _ method: String, _ path: String) throws -> (status: Int, body: String) {
                try Admin.requestAs(uid: uid, gid: uid, socket: daemon.unixSocket, method: method, path: path)
            }
            #expect(try call(1000, "PUT", "/v1/watchers/mine").status == 201)
            #expect(try call(1000, "PUT", "/v1/watchers/mine").status == 200, "its owner refreshes it")
            for (method, path) in [("PUT", "/v1/watchers/mine"), ("DELETE", "/v1/watchers/mine")] {
                let refused = try call(1001, method, path)
                #expect(refused.status == 403, "\(method) by another uid")
                #expect(refused.body.contains("belongs to uid 1000"), "\(refused.body)")
            }
            // Over TCP, without the secret (a watcher created over the socket has none).
            #expect(try request(daemon.tcp, "/v1/watchers/mine", method: "DELETE").status == 403)
            #expect(try request(daemon.tcp, "/v1/watchers/mine").status == 200, "reading is open")
            #expect(try request(daemon.unix, "/v1/watchers/mine", method: "DELETE").status == 204, "uid 0 is an admin")
        }

        @Test(
            "over TCP a watcher is owned by its secret: returned once at creation, required to acknowledge or delete it"
        )
        func ownedBySecret() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let created = try request(daemon.tcp, "/v1/watchers/job", method: "PUT")
            #expect(created.status == 201)
            let secret = try #require(created.header("Genidd-Watcher-Secret"))
            #expect(created.json["secret"] as? String == secret)
            #expect(secret.count == 32)
            let bad = ("Genidd-Watcher-Secret", "not-the-secret-000000")
            func ack(_ headers: [(String, String)]) throws -> Int {
                try request(
                    daemon.tcp, "/v1/watchers/job/ack", method: "POST",
                    headers: [("Content-Type", "application/json")] + headers, body: "{\"seq\":1}"
                ).status
            }
            #expect(try ack([]) == 403)
            #expect(try ack([bad]) == 403)
            #expect(try ack([("Genidd-Watcher-Secret", secret)]) == 200)
            #expect(try request(daemon.tcp, "/v1/watchers/job", method: "PUT", headers: [bad]).status == 403)
            let refresh = try request(
                daemon.tcp, "/v1/watchers/job", method: "PUT", headers: [("Genidd-Watcher-Secret", secret)])
            #expect(refresh.status == 200 && refresh.json["secret"] == nil, "the secret is told only once")
            // Attaching an SSE stream to it needs the secret too.
            let stolen = try EventStreamClient(daemon.tcp, path: "/v1/events?watcher=job")
            #expect(stolen.status == 403)
            #expect(try request(daemon.tcp, "/v1/watchers/job", method: "DELETE", headers: [bad]).status == 403)
            #expect(
                try request(
                    daemon.tcp, "/v1/watchers/job", method: "DELETE", headers: [("Genidd-Watcher-Secret", secret)]
                )
                .status == 204)
            #expect(
                try request(daemon.tcp, "/v1/watchers/x", method: "PUT", headers: [("Genidd-Watcher-Secret", "short")])
                    .status == 400)
        }

        @Test("each owner may create a bounded number of watchers; the list comes in pages")
        func capsAndPages() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--max-watchers-per-owner", "5"])
            for index in 0..<5 {
                #expect(try Self.call(daemon, "PUT", "w\(index)").status == 201)
            }
            let capped = try Self.call(daemon, "PUT", "w5")
            #expect(capped.status == 429)
            #expect((capped.json["detail"] as? String)?.contains("--max-watchers-per-owner") == true)
            var names: [String] = []
            var after: String?
            for _ in 0..<5 {
                let page = try request(
                    daemon.tcp, "/v1/watchers?limit=2" + (after.map { "&after=\($0)" } ?? "")
                ).json
                names += (page["watchers"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(page["outdated"] as? Int == 0)
                after = page["next_after"] as? String
                if after == nil { break }
            }
            #expect(names == ["w0", "w1", "w2", "w3", "w4"])
            #expect(try request(daemon.tcp, "/v1/watchers?limit=0").status == 400)
            #expect(try request(daemon.tcp, "/v1/watchers?limit=1001").status == 400)
        }
    }
}
