import Foundation
import Testing

extension DaemonTests {
    @Suite("generation_id: a random id per seq, kept with the state, exported as genidd_generation_info")
    struct GenerationID {
        static let pattern = "^[0-9a-f]{32}$"

        static func generationID(_ daemon: DaemonProcess) throws -> String {
            let state = try request(daemon.tcp, "/v1/generation").json
            guard let id = state["generation_id"] as? String,
                id.range(of: pattern, options: .regularExpression) != nil
            else {
                throw DaemonTestError("no valid generation_id in \(state)")
            }
            return id
        }

        /// The `generation_id` labels of every `genidd_generation_info` sample.
        static func exportedIDs(_ daemon: DaemonProcess) throws -> [String] {
            try request(daemon.tcp, "/metrics").text.split(separator: "\n")
                .filter { $0.hasPrefix("genidd_generation_info{") }
                .compactMap { line -> String? in
                    guard line.hasSuffix("} 1") || line.hasSuffix("} 1.0"),
                        let range = line.range(of: #"generation_id="[0-9a-f]{32}""#, options: .regularExpression)
                    else { return nil }
                    return String(line[range].dropFirst("generation_id=\"".count).dropLast())
                }
        }

        @Test("every change draws a new id; a stale spell keeps it; a restart restores it with its seq")
        func drawnPerSeq() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            var daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let first = try Self.generationID(daemon)
            let watch = try ChangeWatch(daemon)
            let changed = try watch.expectChange { try counter.replace("2") }
            let second = try #require(changed.state["generation_id"] as? String)
            #expect(second != first, "a new seq has a new generation_id")

            try counter.replace("garbage")
            _ = try waitForReadiness(daemon) { $0.status == 503 }
            let stale = try request(daemon.tcp, "/v1/generation").json
            #expect(stale["stale"] as? Bool == true)
            #expect(stale["generation_id"] as? String == second, "turning stale is not a new seq")
            let recovered = try watch.expectChange { try counter.replace("2") }
            let third = try #require(recovered.state["generation_id"] as? String)
            #expect(![first, second].contains(third), "recovering from a failure is reported with a new id")

            let saved = try String(contentsOfFile: daemon.stateDirectory + "/state.json", encoding: .utf8)
            #expect(saved.contains("\"generation_id\":\"\(third)\""), "\(saved)")
            #expect(daemon.terminate()?.status == 0)
            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let restored = try request(daemon.tcp, "/v1/generation").json
            #expect(restored["seq"] as? Int == watch.seq, "the restart restores the series")
            #expect(restored["generation_id"] as? String == third, "and the id of its seq")
        }

        @Test("a state file from a genidd without generation_id goes on in its series under a fresh id")
        func olderStateFile() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "7")
            try Durability.writeState(
                in: directory,
                "\"boot_id\":\"\(Durability.bootID)\",\"instance\":\"old1\",\"seq\":5,\"generation\":7,"
                    + "\"source\":\"\(counter.sourceArgument)\",\"cursor\":null,\"changed_at_ms\":1000,\"uuid_hash\":null"
            )
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let state = try request(daemon.tcp, "/v1/generation").json
            #expect(state["instance"] as? String == "old1")
            #expect(state["seq"] as? Int == 5)
            let id = try Self.generationID(daemon)
            let saved = try String(contentsOfFile: daemon.stateDirectory + "/state.json", encoding: .utf8)
            #expect(saved.contains("\"generation_id\":\"\(id)\""), "the fresh id is saved at once: \(saved)")
        }

        @Test("/metrics exports only the current id; the previous series is gone after a change")
        func exported() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let first = try Self.generationID(daemon)
            #expect(try Self.exportedIDs(daemon) == [first])
            let text = try request(daemon.tcp, "/metrics").text
            #expect(text.contains("# TYPE genidd_generation_info gauge"), "\(text)")
            try counter.replace("2")
            try waitForSeq(daemon, 2)
            let second = try Self.generationID(daemon)
            #expect(try Self.exportedIDs(daemon) == [second], "one series, the current id's")
        }

        @Test(
            "a copied state directory (a clone nothing announced) serves the same id; a change gives only that clone a new one"
        )
        func cloneWithoutSignal() throws {
            let pair = try ClonedPair()
            let original = try Self.generationID(pair.original)
            #expect(try Self.generationID(pair.clone) == original, "the clone restored the original's state")
            #expect(try Self.exportedIDs(pair.clone) == [original])
            try pair.cloneCounter.replace("2")
            try waitForSeq(pair.clone, 2)
            let fresh = try Self.generationID(pair.clone)
            #expect(fresh != original, "after a change the clone draws its own id")
            #expect(try Self.generationID(pair.original) == original, "the original saw no change")
        }
    }
}

/// Two daemons as two clones of one VM that nothing announced: the second
/// starts from a copy of the first one's `state.json` (same boot, since it is
/// the same machine, and the same counter value), so it restores the same
/// instance, seq and generation_id. Each has its own counter file; on real
/// clones the path is the same on each disk, so the copy names the clone's.
final class ClonedPair {
    let original: DaemonProcess
    let clone: DaemonProcess
    let originalCounter: CounterFile
    let cloneCounter: CounterFile

    init(value: String = "1") throws {
        let first = try DaemonProcess.makeDirectory()
        originalCounter = try CounterFile(in: first, value: value)
        original = try DaemonProcess(directory: first, arguments: ["--source", originalCounter.sourceArgument])
        let second = try DaemonProcess.makeDirectory()
        cloneCounter = try CounterFile(in: second, value: value)
        let saved = try Data(contentsOf: URL(fileURLWithPath: original.stateDirectory + "/state.json"))
        guard var state = try JSONSerialization.jsonObject(with: saved) as? [String: Any],
            state["source"] as? String == originalCounter.sourceArgument
        else {
            throw DaemonTestError("unexpected state file: \(String(decoding: saved, as: UTF8.self))")
        }
        state["source"] = cloneCounter.sourceArgument
        let stateDirectory = second.appendingPathComponent("state")
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: state).write(to: stateDirectory.appendingPathComponent("state.json"))
        clone = try DaemonProcess(directory: second, arguments: ["--source", cloneCounter.sourceArgument])
    }
}
