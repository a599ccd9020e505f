import Foundation
import Testing

extension DaemonTests {
    @Suite("uuid_hash keys of any length go through nettle's HMAC as RFC 2104 says")
    struct UUIDHashKeys {
        // Known answers computed with Python's hmac module:
        // hmac.new(KEY, b"genidd-uuid-v1:" + uuid, sha256).hexdigest()
        static let cases: [(key: [UInt8], expected: String)] = [
            // One SHA-256 block: used as it is.
            (
                Array(repeating: UInt8(ascii: "k"), count: 64),
                "sha256:0628ecf1c56bde4a8f1eaec5739a97f877be0940f49bb36ccd1b116278caa263"
            ),
            // One byte longer than a block: hashed first.
            (
                Array(repeating: UInt8(ascii: "k"), count: 65),
                "sha256:196319766cb1ac02d46d85bd695c2d5bb680a6e1b0c329166518458461a79baf"
            ),
            // 1 KiB of every byte value, NUL included.
            (
                Array((0..<1024).map { UInt8($0 % 256) }),
                "sha256:c0d3dc603a9290a546055472364d34c420978c119b9a8b03ec696b3669bd72a6"
            ),
        ]

        @Test("64-byte, 65-byte and 1 KiB binary keys")
        func longKeys() throws {
            for (key, expected) in Self.cases {
                let directory = try DaemonProcess.makeDirectory()
                let counter = try CounterFile(in: directory)
                let uuidFile = directory.appendingPathComponent("uuid")
                try Data(UUIDHash.uuid.utf8).write(to: uuidFile)
                let keyFile = directory.appendingPathComponent("key")
                try Data(key).write(to: keyFile)
                let daemon = try DaemonProcess(
                    directory: directory,
                    arguments: [
                        "--source", counter.sourceArgument, "--uuid-file", uuidFile.path, "--hash-key-file",
                        keyFile.path,
                    ])
                let hash = try request(daemon.tcp, "/v1/generation").json["uuid_hash"] as? String
                #expect(hash == expected, "key of \(key.count) bytes")
            }
        }
    }
}
