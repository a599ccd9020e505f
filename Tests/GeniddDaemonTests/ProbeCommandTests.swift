import Foundation
import Testing

extension DaemonTests {
    @Suite("genidd probe, and the exact probe commands the Docker and Kubernetes files run")
    struct ProbeCommands {
        /// The repository's top directory (this file is Tests/GeniddDaemonTests/…).
        static let repository = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

        /// A probe command as a file states it, and where it comes from.
        struct ShippedProbe: CustomStringConvertible {
            let origin: String
            let check: String
            let command: [String]
            var description: String { "\(origin): \(command.joined(separator: " "))" }
        }

        @Test(
            "the Dockerfile, compose and DaemonSet probes: 0 while healthy; ready fails and live passes while the source fails"
        )
        func shippedProbes() throws {
            let probes = try Self.shippedProbes()
            #expect(probes.map(\.origin).count == 4, "\(probes)")
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "5")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])

            for probe in probes {
                let result = try runCommand(DaemonProcess.binary, Self.localize(probe.command, for: daemon))
                #expect(result.status == 0, "healthy daemon, \(probe) -> \(result.status): \(result.output)")
            }

            try counter.write("garbage")
            try waitForReady(daemon, status: 503)
            for probe in probes {
                let result = try runCommand(DaemonProcess.binary, Self.localize(probe.command, for: daemon))
                if probe.check == "ready" {
                    #expect(result.status == 1, "failing source, \(probe) -> \(result.status): \(result.output)")
                    #expect(result.output.contains("answered 503"), "\(result.output)")
                    #expect(result.output.contains("does not hold a decimal counter"), "\(result.output)")
                } else {
                    #expect(result.status == 0, "failing source, \(probe) -> \(result.status): \(result.output)")
                }
            }
        }

        @Test("probe over TCP and the socket; a URL with a path, an unknown check or no daemon fail clearly")
        func probeCommand() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let base = "http://127.0.0.1:\(daemon.port)"
            for target in [["--url", base], ["--url", base + "/"], ["--unix", daemon.unixSocket]] {
                let ready = try runCommand(DaemonProcess.binary, ["probe", "ready"] + target)
                #expect(ready.status == 0, "\(ready.output)")
                #expect(ready.output.contains("\"status\":\"ready\""), "\(ready.output)")
                let live = try runCommand(DaemonProcess.binary, ["probe", "live"] + target)
                #expect(live.status == 0, "\(live.output)")
            }
            for (arguments, mention) in [
                (["probe", "ready", "--url", base + "/readyz"], "without a path"),
                (["probe", "live", "--url", base + "/prefix/"], "without a path"),
                (["probe", "healthy", "--url", base], "live"),
                (["probe", "ready", "--url", base, "--unix", daemon.unixSocket], "cannot be used together"),
                (["probe", "ready", "--timeout", "soon"], "--timeout"),
            ] {
                let result = try runCommand(DaemonProcess.binary, arguments)
                #expect(result.status == 64, "\(arguments) -> \(result.status): \(result.output)")
                #expect(result.output.contains(mention), "\(result.output)")
            }
            let gone = directory.appendingPathComponent("no-such.sock").path
            let unreachable = try runCommand(DaemonProcess.binary, ["probe", "live", "--unix", gone])
            #expect(unreachable.status == 1)
            #expect(
                unreachable.output.contains("cannot reach genidd at the Unix socket \(gone)"), "\(unreachable.output)")
        }

        /// The command with only the binary and the daemon's address replaced:
        /// the first word (`genidd`, on PATH in the image) becomes the built
        /// binary, a `--unix` path (/run/genidd/genidd.sock in the image) this
        /// daemon's socket, and a `--url` this daemon's TCP base URL. Every
        /// other word runs as the file states it.
        static func localize(_ command: [String], for daemon: DaemonProcess) -> [String] {
            var arguments = Array(command.dropFirst())
            for (index, word) in arguments.enumerated().dropLast() {
                if word == "--unix" {
                    arguments[index + 1] = daemon.unixSocket
                } else if word == "--url" {
                    arguments[index + 1] = "http://127.0.0.1:\(daemon.port)"
                }
            }
            return arguments
        }

        /// The probe commands of docker/Dockerfile (HEALTHCHECK … CMD [JSON]),
        /// docker/compose.yaml (services.genidd.healthcheck.test) and
        /// docker/daemonset.yaml (livenessProbe and readinessProbe exec.command).
        /// The two YAML files write them as one-line flow sequences; a small
        /// reader takes those (no YAML library in the tests), and fails
        /// loudly when a file states a probe some other way.
        static func shippedProbes() throws -> [ShippedProbe] {
            var probes: [ShippedProbe] = []
            let dockerfile = try read("docker/Dockerfile").replacingOccurrences(of: "\\\n", with: " ")
            let healthcheck = try #require(
                dockerfile.split(separator: "\n").first { $0.hasPrefix("HEALTHCHECK ") }, "no HEALTHCHECK")
            let json = try #require(healthcheck.range(of: "CMD ["), "HEALTHCHECK without CMD [...]")
            let array = String(healthcheck[healthcheck.index(before: json.upperBound)...])
            let words = try #require(try JSONSerialization.jsonObject(with: Data(array.utf8)) as? [String])
            probes.append(ShippedProbe(origin: "Dockerfile HEALTHCHECK", check: words[2], command: words))

            let compose = try read("docker/compose.yaml")
            let genidd = try #require(compose.range(of: "\n  genidd:\n"), "compose: no genidd service")
            let test = try flowSequence(after: "healthcheck:", key: "test:", in: compose[genidd.upperBound...])
            #expect(test.first == "CMD", "compose healthcheck.test must be [\"CMD\", ...]: \(test)")
            probes.append(ShippedProbe(origin: "compose healthcheck", check: test[3], command: Array(test.dropFirst())))

            let daemonset = try read("docker/daemonset.yaml")
            for probe in ["livenessProbe:", "readinessProbe:"] {
                let command = try flowSequence(after: probe, key: "command:", in: daemonset[...])
                probes.append(
                    ShippedProbe(origin: "DaemonSet \(probe.dropLast())", check: command[2], command: command))
            }
            for probe in probes {
                #expect(
                    probe.command.count > 2 && probe.command[0] == "genidd" && probe.command[1] == "probe",
                    "\(probe) is not a genidd probe command")
            }
            return probes
        }

        private static func read(_ path: String) throws -> String {
            try String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8)
        }

        /// `key: [a, "b", c]` on the first line with `key` after the first
        /// line with `anchor`, as words with YAML's quotes removed.
        private static func flowSequence(after anchor: String, key: String, in text: Substring) throws -> [String] {
            let start = try #require(text.range(of: anchor), "no \(anchor)")
            let line = try #require(
                text[start.upperBound...].split(separator: "\n").first {
                    $0.trimmingCharacters(in: .whitespaces).hasPrefix(key)
                }, "no \(key) after \(anchor)")
            let value = line.trimmingCharacters(in: .whitespaces).dropFirst(key.count)
                .trimmingCharacters(in: .whitespaces)
            guard value.hasPrefix("["), value.hasSuffix("]") else {
                throw DaemonTestError("\(anchor) \(key) must be a one-line [a, b, ...] sequence, got: \(line)")
            }
            return value.dropFirst().dropLast().split(separator: ",").map { word in
                let trimmed = word.trimmingCharacters(in: .whitespaces)
                let quoted = trimmed.count >= 2 && (trimmed.first == "\"" || trimmed.first == "'")
                return quoted ? String(trimmed.dropFirst().dropLast()) : trimmed
            }
        }
    }
}
