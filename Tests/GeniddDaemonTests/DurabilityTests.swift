import Foundation
import Synchronization
import Testing

extension DaemonTests {
    @Suite("Durability: write-ahead seq, full filesystems, export files, crashes, untrusted state")
    struct Durability {
        /// `genidd_NAME...` sample values from `/metrics`.
        static func metric(_ daemon: DaemonProcess, _ prefix: String) throws -> Double? {
            Metrics.sample(try request(daemon.tcp, "/metrics").text, prefix)
        }

        /// This boot's id, as genidd tags its state with it.
        static var bootID: String {
            (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        }

        /// Writes a `state.json` into the daemon's (future) state directory.
        static func writeState(in directory: URL, _ fields: String) throws {
            let state = directory.appendingPathComponent("state")
            try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
            try Data("{\(fields)}\n".utf8).write(to: state.appendingPathComponent("state.json"))
        }

        @Test(
            "a full state directory: the change is still served, /readyz says why, and a restart begins a new instance that no old ETag, Last-Event-ID or wait= can mistake for the old one",
            .enabled(if: SmallFilesystem.available, "mounting a small tmpfs needs root"))
        func fullStateDirectory() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let filesystem = try SmallFilesystem(at: directory.appendingPathComponent("state"), kibibytes: 256)
            var daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let watch = try ChangeWatch(daemon)
            _ = try watch.expectChange { try counter.replace("2") }
            // A second link keeps the saved state's page allocated when genidd
            // removes the outdated file, so the filesystem stays full.
            #expect(link(filesystem.path + "/state.json", filesystem.path + "/.pinned") == 0)
            try filesystem.fill()
            let unsaved = try watch.expectChange { try counter.replace("3") }
            #expect(unsaved.state["generation"] as? Int == 3, "a change that cannot be saved is still served")
            let ready = try waitForReadiness(daemon) { $0.status == 503 }
            #expect((ready.json["detail"] as? String)?.contains("state is not saved") == true, "\(ready.text)")
            #expect((ready.json["detail"] as? String)?.contains("No space left") == true, "\(ready.text)")
            #expect(try Self.metric(daemon, "genidd_state_persisted ") == 0)
            #expect(try Self.metric(daemon, "genidd_state_save_errors_total ") ?? 0 >= 1)
            #expect(
                !FileManager.default.fileExists(atPath: filesystem.path + "/state.json"),
                "the outdated state file is removed so that a restart cannot resume from it")
            let oldInstance = watch.instance
            #expect(daemon.terminate()?.status == 0)

            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let after = try request(daemon.tcp, "/v1/generation").json
            let newInstance = try #require(after["instance"] as? String)
            #expect(newInstance != oldInstance, "a new instance: seq numbers of the old one are never reissued")
            let cached = try request(daemon.tcp, "/v1/generation", headers: [("If-None-Match", "\"\(oldInstance).3\"")])
            #expect(cached.status == 200, "an ETag of the old instance never gets 304")
            let resumed = try EventStreamClient(daemon.tcp, headers: [("Last-Event-ID", "\(oldInstance).3")])
            #expect(resumed.nextEvent(timeout: 5)?.id?.hasPrefix(newInstance + ".") == true)
            let start = Date()
            let poll = try request(daemon.tcp, "/v1/generation?wait=\(oldInstance).3&timeout=10", timeout: 15)
            #expect(Date().timeIntervalSince(start) < 2, "a wait= from the old instance answers at once")
            #expect(poll.json["instance"] as? String == newInstance)
            #expect(try request(daemon.tcp, "/readyz").status == 503, "still nothing can be saved")

            try filesystem.free()
            try waitForReady(daemon, status: 200)
            #expect(try Self.metric(daemon, "genidd_state_persisted ") == 1)
            let saved = try String(contentsOfFile: filesystem.path + "/state.json", encoding: .utf8)
            #expect(saved.contains(newInstance), "the save is retried once space is back")
        }

        @Test(
            "an export file on a full filesystem: /readyz 503 and metrics until space is back, then it holds the seq",
            .enabled(if: SmallFilesystem.available, "mounting a small tmpfs needs root"))
        func fullExportFilesystem() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let filesystem = try SmallFilesystem(at: directory.appendingPathComponent("exports"), kibibytes: 64)
            try filesystem.fill()
            let export = filesystem.path + "/sysgenid"
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--export-sysgenid", export])
            let ready = try waitForReadiness(daemon) { $0.status == 503 }
            #expect((ready.json["detail"] as? String)?.contains("export file") == true, "\(ready.text)")
            #expect((ready.json["detail"] as? String)?.contains(export) == true, "\(ready.text)")
            #expect(try Self.metric(daemon, "genidd_exports_current ") == 0)
            #expect(try Self.metric(daemon, "genidd_export_errors_total ") ?? 0 >= 1)

            try filesystem.free()
            try waitForReady(daemon, status: 200)
            #expect(try Self.metric(daemon, "genidd_exports_current ") == 1)
            func exported() throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: export)).prefix(4)) }
            #expect(try exported() == [1, 0, 0, 0])
            try counter.replace("2")
            try waitForSeq(daemon, 2)
            #expect(try exported() == [2, 0, 0, 0])
        }

        @Test("an export path holding another file is refused and left untouched; an empty file is adopted")
        func foreignExportFile() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let foreign = directory.appendingPathComponent("notes.txt")
            let contents = Data("important notes, not a counter\n".utf8)
            try contents.write(to: foreign)
            let refused = try runCommand(
                DaemonProcess.binary,
                [
                    "serve", "--source", counter.sourceArgument, "--state-dir",
                    directory.appendingPathComponent("state").path, "--listen", "127.0.0.1:0", "--export-sysgenid",
                    foreign.path,
                ])
            #expect(refused.status != 0)
            #expect(refused.output.contains("\(foreign.path) exists and is not a genidd export"), "\(refused.output)")
            #expect(try Data(contentsOf: foreign) == contents, "the file is not clobbered")

            // An empty file, as created for a bind mount, is adopted.
            let empty = directory.appendingPathComponent("sysgenid")
            #expect(FileManager.default.createFile(atPath: empty.path, contents: nil))
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--export-sysgenid", empty.path])
            #expect(Array(try Data(contentsOf: empty)) == [1, 0, 0, 0] + [UInt8](repeating: 0, count: 4092))
            #expect(daemon.terminate()?.status == 0)
        }

        @Test("kill -9 during a stream of changes: within an instance no seq ever names two generations or goes back")
        func killLoop() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let writer = CounterWriter(counter)
            defer { writer.stop() }
            var observations: [(instance: String, seq: Int, generation: Int)] = []
            var random = SystemRandomNumberGenerator()
            for _ in 0..<8 {
                let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
                let stream = try EventStreamClient(daemon.unix)
                let until = Date().addingTimeInterval(Double.random(in: 0.2...0.6, using: &random))
                while Date() < until {
                    if let event = stream.nextEvent(timeout: 0.02), let instance = event.json["instance"] as? String,
                        let seq = event.json["seq"] as? Int, let generation = event.json["generation"] as? Int
                    {
                        #expect(event.id == "\(instance).\(seq)")
                        observations.append((instance, seq, generation))
                    }
                    if let state = try? request(daemon.tcp, "/v1/generation").json,
                        let instance = state["instance"] as? String,
                        let seq = state["seq"] as? Int, let generation = state["generation"] as? Int
                    {
                        observations.append((instance, seq, generation))
                    }
                }
                kill(daemon.process.processIdentifier, SIGKILL)
                daemon.process.waitUntilExit()
            }
            #expect(Set(observations.map(\.instance)).count == 1, "kill -9 never loses the saved series")
            var generations: [String: Int] = [:]
            var latest: [String: Int] = [:]
            for observation in observations {
                let key = "\(observation.instance).\(observation.seq)"
                if let known = generations[key] {
                    #expect(
                        known == observation.generation,
                        "seq \(key) named generations \(known) and \(observation.generation)")
                }
                generations[key] = observation.generation
                // SSE events and REST answers interleave: a REST answer may be
                // one change ahead of an event read just after it, never more.
                if let before = latest[observation.instance] {
                    #expect(observation.seq >= before - 1, "seq went back from \(before) to \(observation.seq)")
                }
                latest[observation.instance] = max(latest[observation.instance] ?? 0, observation.seq)
            }
            #expect(generations.count > 10, "the loop saw \(generations.count) states")
        }

        @Test(
            "implausible saved states (seq 2^64-1, a bad instance, an absurd time, a bad uuid_hash or generation_id) start a new instance; nothing crashes"
        )
        func implausibleState() throws {
            let cases = [
                "\"seq\":18446744073709551615,\"instance\":\"abc\"", "\"seq\":9007199254740992,\"instance\":\"abc\"",
                "\"seq\":3,\"instance\":\"a\\nb\"", "\"seq\":3,\"instance\":\"a.b\"",
                "\"seq\":3,\"instance\":\"abc\",\"changed_at_ms\":-5",
                "\"seq\":3,\"instance\":\"abc\",\"uuid_hash\":\"sha256:evil\\n\"",
                "\"seq\":3,\"instance\":\"abc\",\"generation_id\":\"0123456789ABCDEF0123456789abcdef\"",
                "\"seq\":3,\"instance\":\"abc\",\"generation_id\":\"0123456789abcdef0123456789abcde\"",
                "\"seq\":3,\"instance\":\"abc\",\"generation_id\":\"0123456789abcdef0123456789abcdef\\n\"",
                "\"seq\":3,\"instance\":\"abc\",\"generation_id\":7",
                "\"seq\":3,\"instance\":\"abc\",\"generation_id\":null",
            ]
            for fields in cases {
                let directory = try DaemonProcess.makeDirectory()
                let counter = try CounterFile(in: directory, value: "1")
                var document =
                    "\"boot_id\":\"\(Self.bootID)\",\"generation\":1,\"source\":\"\(counter.sourceArgument)\","
                document += "\"cursor\":null,\"uuid_hash\":null,\"changed_at_ms\":1000," + fields
                // Later members win in json-c, so the case's fields override the defaults.
                try Self.writeState(in: directory, document)
                let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
                let state = try request(daemon.tcp, "/v1/generation").json
                #expect(state["instance"] as? String != "abc", "\(fields)")
                #expect(state["seq"] as? Int == 1, "\(fields)")
                #expect(daemon.log.contains("ignoring the saved state"), "\(fields)")
                try counter.replace("2")
                try waitForSeq(daemon, 2)
                #expect(daemon.terminate()?.status == 0, "\(fields)")
            }
        }

        @Test(
            "an exhausted seq (2^53-1, the largest a JavaScript client reads exactly) starts a new instance at the next change"
        )
        func exhaustedSeq() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            try Self.writeState(
                in: directory,
                "\"boot_id\":\"\(Self.bootID)\",\"instance\":\"old1\",\"seq\":9007199254740991,\"generation\":1,"
                    + "\"source\":\"\(counter.sourceArgument)\",\"cursor\":null,\"changed_at_ms\":1000,\"uuid_hash\":null"
            )
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let restored = try request(daemon.tcp, "/v1/generation").json
            #expect(restored["instance"] as? String == "old1")
            #expect(restored["seq"] as? Int == 9_007_199_254_740_991)
            let poll = try TestSocket(daemon.tcp)
            try poll.sendRequest("GET", "/v1/generation?wait=old1.9007199254740991&timeout=10")
            try counter.replace("2")
            let answer = try poll.readResponse(timeout: 5).json
            #expect(answer["instance"] as? String != "old1")
            #expect(answer["seq"] as? Int == 1)
            #expect(answer["generation"] as? Int == 2)
            #expect(daemon.log.contains("seq reached its maximum; starting a new instance"))
        }
    }
}

/// Writes an ever-increasing counter (atomically, by rename) every 15 ms on a
/// thread of its own, as a hypervisor that restores the VM over and over.
final class CounterWriter: Sendable {
    private let stopped = Atomic<Bool>(false)

    init(_ counter: CounterFile) {
        let url = counter.url
        Thread.detachNewThread { [self] in
            let file = CounterFile(existing: url)
            var value = 1
            while !stopped.load(ordering: .relaxed) {
                value += 1
                try? file.replace("\(value)")
                Thread.sleep(forTimeInterval: 0.015)
            }
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }
}
