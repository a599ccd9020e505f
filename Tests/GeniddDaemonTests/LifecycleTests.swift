import Foundation
import Testing

extension DaemonTests {
    @Suite("Start, stop, restart and failing sources")
    struct Lifecycle {
        @Test(
            "SIGTERM with SSE subscribers and long-polls connected: streams end cleanly, polls are answered, exit 0 within a second"
        )
        func terminateWithSubscribers() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let streams = try (0..<20).map { index in try EventStreamClient(index % 2 == 0 ? daemon.tcp : daemon.unix) }
            for stream in streams { _ = stream.nextEvent(timeout: 5) }
            let polls = try (0..<5).map { _ in
                let socket = try TestSocket(daemon.tcp)
                try socket.sendRequest("GET", "/v1/generation?wait=1&timeout=60")
                return socket
            }
            Thread.sleep(forTimeInterval: 0.2)
            let exit = try #require(daemon.terminate(timeout: 5), "genidd did not exit\n\(daemon.log)")
            #expect(exit.status == 0)
            #expect(exit.seconds < 1.0, "exit took \(exit.seconds) s")
            for stream in streams {
                #expect(stream.waitForEnd(timeout: 2))
            }
            for socket in polls {
                #expect(try socket.readResponse(timeout: 2).status == 200)
            }
            #expect(!FileManager.default.fileExists(atPath: daemon.unixSocket), "the Unix socket is removed")
        }

        @Test("a restart keeps seq, instance and changed_at; a change while stopped is a new seq")
        func restartKeepsSeq() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            var daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            try counter.write("2")
            try waitForSeq(daemon, 2)
            let before = try request(daemon.tcp, "/v1/generation").json
            #expect(daemon.terminate()?.status == 0)

            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let after = try request(daemon.tcp, "/v1/generation").json
            #expect(after["seq"] as? Int == 2)
            #expect(after["instance"] as? String == before["instance"] as? String)
            #expect(after["changed_at"] as? String == before["changed_at"] as? String)
            #expect(daemon.terminate()?.status == 0)

            try counter.write("3")
            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let changed = try request(daemon.tcp, "/v1/generation").json
            #expect(changed["seq"] as? Int == 3)
            #expect(changed["generation"] as? Int == 3)
            #expect(changed["instance"] as? String == before["instance"] as? String)
        }

        @Test(
            "after the state directory is lost, a resume from the old series (Last-Event-ID, wait=INSTANCE.SEQ, If-None-Match) gets the new one at once; a bare seq waits"
        )
        func lostStateDirectory() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            var daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let old = try #require(try request(daemon.tcp, "/v1/generation").json["instance"] as? String)
            #expect(daemon.terminate()?.status == 0)
            try FileManager.default.removeItem(atPath: daemon.stateDirectory)
            try counter.replace("2")
            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let now = try request(daemon.tcp, "/v1/generation").json
            let current = try #require(now["instance"] as? String)
            #expect(current != old)
            #expect(now["seq"] as? Int == 1, "the new series also starts at 1")

            let resumed = try EventStreamClient(daemon.tcp, headers: [("Last-Event-ID", "\(old).1")])
            let event = try #require(resumed.nextEvent(timeout: 5), "the same seq in another instance is not skipped")
            #expect(event.id == "\(current).1")
            var start = Date()
            let poll = try request(daemon.tcp, "/v1/generation?wait=\(old).1&timeout=10", timeout: 15)
            #expect(Date().timeIntervalSince(start) < 2)
            #expect(poll.json["instance"] as? String == current)
            #expect(
                try request(daemon.tcp, "/v1/generation", headers: [("If-None-Match", "\"\(old).1\"")]).status == 200)
            start = Date()
            let bare = try request(daemon.tcp, "/v1/generation?wait=1&timeout=0.5")
            #expect(
                bare.status == 200 && Date().timeIntervalSince(start) >= 0.4,
                "a bare seq is read in the current instance")
            let tagged = try request(daemon.tcp, "/v1/generation", headers: [("If-None-Match", "\"\(current).1\"")])
            #expect(tagged.status == 304)
        }

        @Test("a second daemon on the same state directory is refused with a clear error")
        func stateDirectoryLock() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let second = try runCommand(
                DaemonProcess.binary,
                [
                    "serve", "--source", counter.sourceArgument, "--state-dir", daemon.stateDirectory, "--listen",
                    "127.0.0.1:0",
                ])
            #expect(second.status != 0)
            #expect(second.output.contains("another genidd is using this state directory"))
        }

        @Test("a malformed or missing counter file makes the state stale and /readyz 503, then recovers with a new seq")
        func malformedCounter() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "5")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            #expect(try request(daemon.tcp, "/readyz").status == 200)

            for (bad, problem) in [
                ("five", "does not hold a decimal counter"), ("", "empty"), ("99999999999999999999", "64 bits"),
            ] {
                try counter.write(bad)
                let ready = try waitForReadiness(daemon) { ($0.json["detail"] as? String)?.contains(problem) == true }
                #expect(ready.header("Content-Type") == "application/problem+json")
                #expect((ready.json["detail"] as? String)?.contains(problem) == true, "\(ready.text)")
                #expect((ready.json["detail"] as? String)?.contains(counter.path) == true)
                let state = try request(daemon.tcp, "/v1/generation")
                #expect(state.json["stale"] as? Bool == true)
                #expect(state.json["generation"] as? Int == 5, "the last known state is served")
                #expect(state.header("ETag")?.contains("stale") == true)
                #expect(daemon.log.contains(counter.path))
            }
            try counter.replace("5")
            try waitForReady(daemon, status: 200)
            let recovered = try request(daemon.tcp, "/v1/generation").json
            #expect(recovered["stale"] as? Bool == false)
            #expect(recovered["seq"] as? Int == 2, "recovery after blindness is reported as a change")

            try FileManager.default.removeItem(at: counter.url)
            try waitForReady(daemon, status: 503)
            #expect((try request(daemon.tcp, "/readyz").json["detail"] as? String)?.contains("No such file") == true)
            try counter.write("6")
            try waitForReady(daemon, status: 200)
            #expect(try request(daemon.tcp, "/v1/generation").json["generation"] as? Int == 6)
        }

        @Test("a counter file that does not exist at start: served stale until it appears")
        func missingAtStart() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: nil)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            #expect(try request(daemon.tcp, "/readyz").status == 503)
            #expect(try request(daemon.tcp, "/v1/generation").json["stale"] as? Bool == true)
            try counter.write("9")
            try waitForReady(daemon, status: 200)
            let state = try request(daemon.tcp, "/v1/generation").json
            #expect(state["generation"] as? Int == 9)
            #expect(state["seq"] as? Int == 1)
        }
    }
}

/// Polls `/readyz` until it answers `status`.
func waitForReady(_ daemon: DaemonProcess, status: Int, timeout: Double = 8) throws {
    _ = try waitForReadiness(daemon, timeout: timeout) { $0.status == status }
}

/// Polls `/readyz` until its reply satisfies `condition`; returns that reply.
func waitForReadiness(
    _ daemon: DaemonProcess, timeout: Double = 8, until condition: (HTTPReply) -> Bool
) throws -> HTTPReply {
    let deadline = Date().addingTimeInterval(timeout)
    var last: HTTPReply?
    while Date() < deadline {
        let reply = try request(daemon.tcp, "/readyz")
        if condition(reply) {
            return reply
        }
        last = reply
        Thread.sleep(forTimeInterval: 0.01)
    }
    throw DaemonTestError("/readyz never answered as expected; last: \(last?.text ?? "-")\n\(daemon.log)")
}
