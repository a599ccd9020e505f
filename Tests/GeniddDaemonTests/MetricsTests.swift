import Foundation
import Testing

extension DaemonTests {
    @Suite("GET /metrics: Prometheus exposition")
    struct Metrics {
        /// The value of the first sample line starting with `prefix`.
        static func sample(_ text: String, _ prefix: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap {
                Double($0.split(separator: " ").last ?? "")
            }
        }

        @Test("every documented metric is exposed with the right values")
        func exposition() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "4")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let watch = try ChangeWatch(daemon)
            _ = try request(daemon.tcp, "/v1/watchers/app", method: "PUT")
            _ = try watch.expectChange { try counter.write("5") }
            _ = try request(daemon.tcp, "/nope")

            let reply = try request(daemon.tcp, "/metrics")
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = reply.text
            #expect(Self.sample(text, "genidd_generation ") == 5)
            #expect(Self.sample(text, "genidd_seq ") == 2)
            #expect(Self.sample(text, "genidd_generation_changes_total ") == 1, "starting genidd is not a change")
            #expect(Self.sample(text, "genidd_clock_disruptions_total ") == 0)
            #expect(Self.sample(text, "genidd_subscribers{kind=\"sse\"}") == 1)
            #expect(Self.sample(text, "genidd_subscribers{kind=\"longpoll\"}") == 0)
            #expect(Self.sample(text, "genidd_watchers_outdated ") == 1)
            #expect(Self.sample(text, "genidd_source_up ") == 1)
            #expect(Self.sample(text, "genidd_notify_latency_seconds_count ") == 1, "one change reached one subscriber")
            #expect(text.contains("genidd_build_info{version="))
            #expect(
                text.contains("genidd_source_info{source=\"\(counter.sourceArgument)\",notification=\"inotify\"} 1"))
            #expect(Self.sample(text, "genidd_http_requests_total{route=\"/v1/watchers/{name}\",code=\"201\"}") == 1)
            #expect(Self.sample(text, "genidd_http_requests_total{route=\"other\",code=\"404\"}") == 1)

            try counter.write("garbage")
            _ = try waitForReadiness(daemon) { $0.status == 503 }
            let failing = try request(daemon.tcp, "/metrics").text
            #expect(Self.sample(failing, "genidd_source_up ") == 0)
            #expect(Self.sample(failing, "genidd_source_errors_total{reason=\"malformed\"}") == 1)
        }

        @Test(
            "promtool check metrics accepts the exposition",
            .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"), "needs Debian's prometheus")
        )
        func promtool() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            _ = try request(daemon.tcp, "/v1/generation")
            let exposition = try request(daemon.tcp, "/metrics").body
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
            process.arguments = ["check", "metrics"]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            try process.run()
            input.fileHandleForWriting.write(Data(exposition))
            try input.fileHandleForWriting.close()
            process.waitUntilExit()
            let findings = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus == 0, "promtool: \(findings)")
            #expect(findings.isEmpty, "promtool findings: \(findings)")
        }

        @Test("starting genidd is not a change, and every counter series exists at 0 from the start")
        func atStart() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "4")
            var daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let text = try request(daemon.tcp, "/metrics").text
            #expect(Self.sample(text, "genidd_generation_changes_total ") == 0)
            for reason in ["missing", "permission", "malformed", "io", "unavailable"] {
                #expect(Self.sample(text, "genidd_source_errors_total{reason=\"\(reason)\"}") == 0, "\(reason)")
            }
            #expect(Self.sample(text, "genidd_state_save_errors_total ") == 0)
            #expect(Self.sample(text, "genidd_export_errors_total ") == 0)
            #expect(Self.sample(text, "genidd_state_persisted ") == 1)
            #expect(Self.sample(text, "genidd_exports_current ") == 1)
            #expect(Self.sample(text, "genidd_http_requests_total{route=\"/v1/watchers/{name}\",code=\"429\"}") == 0)
            #expect(Self.sample(text, "genidd_http_requests_total{route=\"/v1/events\",code=\"200\"}") == 0)
            #expect(Self.sample(text, "genidd_http_requests_total{route=\"other\",code=\"404\"}") == 0)

            // A restart is not a change either; a change while genidd was stopped is.
            #expect(daemon.terminate()?.status == 0)
            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            #expect(Self.sample(try request(daemon.tcp, "/metrics").text, "genidd_generation_changes_total ") == 0)
            #expect(daemon.terminate()?.status == 0)
            try counter.replace("5")
            daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            #expect(Self.sample(try request(daemon.tcp, "/metrics").text, "genidd_generation_changes_total ") == 1)
        }
    }
}
