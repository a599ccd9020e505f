import Foundation
import Testing

extension DaemonTests {
    @Suite("genidd get, wait and watch against the real daemon")
    struct ClientCommands {
        @Test("get prints the state as a line and as JSON, over TCP and the Unix socket")
        func get() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "41")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let state = try request(daemon.tcp, "/v1/generation").json
            let changedAt = try #require(state["changed_at"] as? String)
            let instance = try #require(state["instance"] as? String)
            let generationID = try #require(state["generation_id"] as? String)
            let expected =
                "seq=1 generation=41 source=\(counter.sourceArgument) stale=false changed_at=\(changedAt) instance=\(instance) uuid_hash= generation_id=\(generationID)"
            for connection in [["--url", "http://127.0.0.1:\(daemon.port)"], ["--unix", daemon.unixSocket]] {
                let line = try runCommand(DaemonProcess.binary, ["get"] + connection)
                #expect(line.status == 0, "\(line.output)")
                #expect(line.output == expected + "\n")
                let json = try runCommand(DaemonProcess.binary, ["get", "--json"] + connection)
                #expect(json.status == 0, "\(json.output)")
                let document = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
                #expect(document?["seq"] as? Int == 1)
                #expect(document?["generation"] as? Int == 41)
                #expect(document?["instance"] as? String == instance)
                #expect(document?["generation_id"] as? String == generationID)
                #expect(document?["uuid_hash"] is NSNull)
                #expect(document?["stale"] as? Bool == false)
            }
        }

        @Test("wait --since returns with the new state after a change, and exits 2 when --timeout passes")
        func waitForChange() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let url = "http://127.0.0.1:\(daemon.port)"

            let start = Date()
            let timedOut = try runCommand(
                DaemonProcess.binary, ["wait", "--url", url, "--since", "1", "--timeout", "400ms"])
            #expect(timedOut.status == 2, "\(timedOut.output)")
            #expect(timedOut.output.contains("seq is still 1"))
            #expect(Date().timeIntervalSince(start) >= 0.4)

            let already = try runCommand(
                DaemonProcess.binary, ["wait", "--url", url, "--since", "7", "--timeout", "0"])
            #expect(already.status == 0, "seq 1 already differs from 7: \(already.output)")

            let waiting = try ClientProcess(["wait", "--unix", daemon.unixSocket, "--since", "1", "--json"])
            Thread.sleep(forTimeInterval: 0.2)
            #expect(waiting.process.isRunning, "wait returned before the change: \(waiting.log)")
            try counter.write("2")
            #expect(waiting.waitForExit(timeout: 5) == 0, "\(waiting.log)")
            let document = try JSONSerialization.jsonObject(with: Data(waiting.outputLines.joined().utf8))
            #expect((document as? [String: Any])?["seq"] as? Int == 2)
        }

        @Test("watch --exec runs the command once per change with the state in its environment, not for the baseline")
        func watchExec() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "3")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let log = directory.appendingPathComponent("exec.log")
            let watch = try ClientProcess([
                "watch", "--url", "http://127.0.0.1:\(daemon.port)",
                "--exec",
                "echo \"$GENIDD_SEQ $GENIDD_GENERATION $GENIDD_SOURCE [$GENIDD_UUID_HASH] $GENIDD_GENERATION_ID\" >> '\(log.path)'",
            ])
            #expect(watch.waitForOutput(lines: 1, timeout: 5), "no baseline line\n\(watch.log)")
            #expect(watch.outputLines.first?.hasPrefix("seq=1 generation=3 ") == true)
            #expect(watch.waitForError(containing: "baseline", timeout: 2), "\(watch.log)")

            try counter.write("5")
            #expect(waitUntil(timeout: 5) { fileLines(log).count == 1 }, "\(watch.log)")
            try counter.write("9")
            #expect(waitUntil(timeout: 5) { fileLines(log).count == 2 }, "\(watch.log)")
            Thread.sleep(forTimeInterval: 0.3)
            let source = counter.sourceArgument
            let lines = fileLines(log)
            #expect(
                lines.map { $0.split(separator: " ").dropLast().joined(separator: " ") } == [
                    "2 5 \(source) []", "3 9 \(source) []",
                ])
            let ids = lines.compactMap { $0.split(separator: " ").last.map(String.init) }
            let current = try request(daemon.tcp, "/v1/generation").json["generation_id"] as? String
            #expect(ids.count == 2 && ids[0] != ids[1], "each change has its own generation_id: \(lines)")
            #expect(ids.last == current, "GENIDD_GENERATION_ID is the state's generation_id")
            #expect(watch.waitForOutput(lines: 3, timeout: 2))
            #expect(watch.outputLines.count == 3, "\(watch.log)")
            #expect(watch.outputLines.last?.hasPrefix("seq=3 generation=9 ") == true)
            #expect(watch.terminate() == 0, "\(watch.log)")
            _ = daemon
        }

        @Test("watch --watcher acknowledges only when the command exits 0")
        func watcherAcknowledgement() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let url = "http://127.0.0.1:\(daemon.port)"
            let failing = try ClientProcess(["watch", "--url", url, "--watcher", "failing", "--exec", "exit 1"])
            let working = try ClientProcess([
                "watch", "--unix", daemon.unixSocket, "--watcher", "working", "--exec", "true",
            ])
            for watch in [failing, working] {
                #expect(watch.waitForOutput(lines: 1, timeout: 5), "\(watch.log)")
            }
            try counter.write("2")
            #expect(working.waitForError(containing: "acknowledged", timeout: 5), "\(working.log)")
            #expect(failing.waitForError(containing: "command failed (exit status 1)", timeout: 5), "\(failing.log)")
            let watchers = try request(daemon.tcp, "/v1/watchers").json["watchers"] as? [[String: Any]] ?? []
            let outdated = Dictionary(
                uniqueKeysWithValues: watchers.compactMap { entry in
                    (entry["name"] as? String).map { ($0, entry["outdated"] as? Bool) }
                })
            #expect(outdated["failing"] == true, "\(watchers)")
            #expect(outdated["working"] == false, "\(watchers)")
            #expect(!failing.errorLines.contains { $0.contains("acknowledged seq") })
            #expect(failing.terminate() == 0)
            #expect(working.terminate() == 0)
        }

        @Test("watch survives a daemon restart and runs --exec exactly once for the change it missed")
        func watchAcrossRestart() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            var daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let log = directory.appendingPathComponent("exec.log")
            let watch = try ClientProcess([
                "watch", "--unix", daemon.unixSocket, "--exec",
                "echo \"$GENIDD_SEQ $GENIDD_GENERATION\" >> '\(log.path)'",
            ])
            #expect(watch.waitForOutput(lines: 1, timeout: 5), "\(watch.log)")

            #expect(daemon.terminate()?.status == 0)
            try counter.write("2")
            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            #expect(waitUntil(timeout: 8) { fileLines(log).count == 1 }, "\(watch.log)\n\(daemon.log)")
            #expect(watch.waitForError(containing: " connected ", count: 2, timeout: 2), "\(watch.log)")

            try counter.write("3")
            #expect(waitUntil(timeout: 5) { fileLines(log).count == 2 }, "\(watch.log)")
            Thread.sleep(forTimeInterval: 0.3)
            #expect(fileLines(log) == ["2 2", "3 3"])
            #expect(watch.terminate() == 0, "\(watch.log)")
        }

        @Test("watch notices a stream without keepalives (--stall-timeout) and reconnects")
        func watchStall() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--heartbeat", "200ms"])
            let log = directory.appendingPathComponent("exec.log")
            let watch = try ClientProcess([
                "watch", "--url", "http://127.0.0.1:\(daemon.port)", "--stall-timeout", "1s",
                "--exec", "echo \"$GENIDD_SEQ\" >> '\(log.path)'",
            ])
            #expect(watch.waitForOutput(lines: 1, timeout: 5), "\(watch.log)")
            Thread.sleep(forTimeInterval: 1.2)
            #expect(!watch.errorLines.contains { $0.contains("keepalive") }, "keepalives keep the stream alive")

            kill(daemon.process.processIdentifier, SIGSTOP)
            let stalled = watch.waitForError(containing: "not even a keepalive", timeout: 4)
            kill(daemon.process.processIdentifier, SIGCONT)
            #expect(stalled, "\(watch.log)")
            try counter.write("2")
            #expect(waitUntil(timeout: 8) { fileLines(log) == ["2"] }, "\(watch.log)")
            #expect(watch.terminate() == 0, "\(watch.log)")
        }

        @Test("a daemon that requires a token: the problem's detail without one, success with --token-file")
        func token() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let tokenFile = directory.appendingPathComponent("token")
            try Data("0123456789abcdef0123\n".utf8).write(to: tokenFile)
            chmod(tokenFile.path, 0o600)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", counter.sourceArgument, "--read-token-file", tokenFile.path])
            let url = "http://127.0.0.1:\(daemon.port)"
            let refused = try runCommand(DaemonProcess.binary, ["get", "--url", url])
            #expect(refused.status == 1)
            #expect(
                refused.output.contains("answered 401: this genidd requires a bearer token for reads"),
                "\(refused.output)")
            let allowed = try runCommand(DaemonProcess.binary, ["get", "--url", url, "--token-file", tokenFile.path])
            #expect(allowed.status == 0, "\(allowed.output)")
            let watch = try runCommand(DaemonProcess.binary, ["watch", "--url", url], timeout: 5)
            #expect(watch.status == 1, "a refused subscription is final: \(watch.output)")
            #expect(watch.output.contains("401"))
        }

        @Test("connection failures exit 1 and say where and why")
        func unreachable() throws {
            let directory = try DaemonProcess.makeDirectory()
            let socket = directory.appendingPathComponent("missing.sock").path
            let port = try unusedPort()
            let cases: [([String], String)] = [
                (["get", "--url", "http://127.0.0.1:\(port)"], "cannot reach genidd at http://127.0.0.1:\(port): "),
                (["get", "--unix", socket], "cannot reach genidd at the Unix socket \(socket): "),
                (["wait", "--since", "1", "--url", "http://127.0.0.1:\(port)"], "Connection refused"),
            ]
            for (arguments, message) in cases {
                let result = try runCommand(DaemonProcess.binary, arguments)
                #expect(result.status == 1, "\(arguments)")
                #expect(result.output.contains(message), "\(result.output)")
            }
        }

        @Test(
            "bad client flags exit 64 and name the problem",
            arguments: [
                (["get", "--url", "http://127.0.0.1:1", "--unix", "/tmp/x.sock"], "--url and --unix"),
                (["get", "--url", "127.0.0.1:8080"], "--url must"),
                (["get", "--url", "ftp://host"], "http:// or https://"),
                (["get", "--url", "http://host/?q=1"], "without query"),
                (["get", "--token-file", "/nonexistent/token"], "--token-file"),
                (["wait"], "--since"),
                (["wait", "--since", "-1"], "--since"),
                (["wait", "--since", "1", "--timeout", "soon"], "--timeout"),
                (["watch", "--watcher", "no spaces"], "--watcher"),
                (["watch", "--exec-on-start"], "--exec-on-start needs --exec"),
                (["watch", "--stall-timeout", "0"], "--stall-timeout"),
            ])
        func badFlags(arguments: [String], mention: String) throws {
            let result = try runCommand(DaemonProcess.binary, arguments)
            #expect(result.status == 64, "\(result.output)")
            #expect(result.output.contains(mention), "\(result.output)")
        }
    }
}

/// A loopback TCP port nothing listens on: bound to port 0, then closed.
func unusedPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw DaemonTestError("cannot bind a loopback port") }
    return UInt16(bigEndian: address.sin_port)
}
