import Foundation
import Testing

extension DaemonTests {
    @Suite("uuid_hash: only a keyed hash of the VM generation UUID is ever exposed")
    struct UUIDHash {
        static let uuid = "8f4b6a2c-1d3e-4f50-9a7b-0c1d2e3f4a5b"
        // Known answers computed with Python's hmac module:
        // hmac.new(KEY, b"genidd-uuid-v1:" + uuid, sha256).hexdigest()
        static let unkeyed = "sha256:eb2656fb03286f89d47812616df3000b34d49bafc2297e0824ddaf0d3f62af81"
        static let keyed = "sha256:eff89046f8bf85c97969114ec1dc7c29776680e2bcd297ef93ae480cf5a38b4a"
        // uuid.UUID(uuid).bytes_le: the GUID memory layout hypervisors use.
        static let guidBytes: [UInt8] = [
            0x2c, 0x6a, 0x4b, 0x8f, 0x3e, 0x1d, 0x50, 0x4f, 0x9a, 0x7b, 0x0c, 0x1d, 0x2e, 0x3f, 0x4a, 0x5b,
        ]

        @Test("text in any case with whitespace, raw GUID bytes, with and without a key")
        func knownAnswers() throws {
            let cases: [(Data, String?, String)] = [
                (Data(Self.uuid.utf8), nil, Self.unkeyed),
                (Data(("  " + Self.uuid.uppercased() + "\n").utf8), nil, Self.unkeyed),
                (Data(Self.guidBytes), nil, Self.unkeyed),
                (Data(Self.uuid.utf8), "fleet-key\n", Self.keyed),
            ]
            for (contents, key, expected) in cases {
                let directory = try DaemonProcess.makeDirectory()
                let counter = try CounterFile(in: directory)
                let uuidFile = directory.appendingPathComponent("uuid")
                try contents.write(to: uuidFile)
                var arguments = ["--source", counter.sourceArgument, "--uuid-file", uuidFile.path]
                if let key {
                    let keyFile = directory.appendingPathComponent("key")
                    try Data(key.utf8).write(to: keyFile)
                    arguments += ["--hash-key-file", keyFile.path]
                }
                let daemon = try DaemonProcess(directory: directory, arguments: arguments)
                #expect(try request(daemon.tcp, "/v1/generation").json["uuid_hash"] as? String == expected)
            }
        }

        @Test("the UUID file is re-read on each change; the raw UUID appears in no response, log or state file")
        func rereadAndNeverLeaked() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let uuidFile = directory.appendingPathComponent("uuid")
            try Data(Self.uuid.utf8).write(to: uuidFile)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", counter.sourceArgument, "--uuid-file", uuidFile.path, "--log-level", "trace"])
            let stream = try EventStreamClient(daemon.tcp)
            let first = try #require(stream.nextEvent(timeout: 5))
            #expect(first.json["uuid_hash"] as? String == Self.unkeyed)

            let second = "11111111-2222-4333-8444-555555555555"
            try Data(second.utf8).write(to: uuidFile)
            try counter.write("2")
            let changed = try #require(stream.nextEvent(timeout: 5))
            let hash = try #require(changed.json["uuid_hash"] as? String)
            #expect(hash != Self.unkeyed && hash.hasPrefix("sha256:") && hash.count == 71)

            try Data("not a uuid at all".utf8).write(to: uuidFile)
            try counter.write("3")
            let broken = try #require(stream.nextEvent(timeout: 5))
            #expect(broken.json["uuid_hash"] is NSNull)
            #expect(daemon.log.contains("uuid_hash unavailable"))

            let state = try String(contentsOfFile: daemon.stateDirectory + "/state.json", encoding: .utf8)
            let everything = daemon.log + state + first.data + changed.data + broken.data
            for secret in [Self.uuid, second, "not a uuid at all", Self.uuid.replacingOccurrences(of: "-", with: "")] {
                #expect(!everything.lowercased().contains(secret), "the raw UUID leaked")
            }
        }
    }
}
