import Foundation
import Testing

extension DaemonTests {
    @Suite(
        "The fleet check: a real Prometheus with packaging/genidd-alerts.yaml finds clones nothing announced",
        .enabled(if: PrometheusServer.available, "needs Debian's prometheus (/usr/bin/prometheus)"))
    struct FleetAlert {
        static let alert = "GeniddCloneWithoutSignal"

        /// The shipped rule file with only the clone alert's `for:` shortened
        /// to 2 s (it ships with 10 m, to ride out restarts under a new
        /// address); its expression is used as shipped.
        static func rules() throws -> String {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let shipped = try String(
                contentsOf: root.appendingPathComponent("packaging/genidd-alerts.yaml"), encoding: .utf8)
            var lines = shipped.components(separatedBy: "\n")
            guard let start = lines.firstIndex(where: { $0.hasSuffix("- alert: \(alert)") }),
                lines[start...].contains(where: {
                    $0.hasSuffix("expr: count by (generation_id) (genidd_generation_info) > 1")
                }),
                let duration = lines[start...].firstIndex(where: {
                    $0.trimmingCharacters(in: .whitespaces).hasPrefix("for:")
                })
            else {
                throw DaemonTestError("packaging/genidd-alerts.yaml has no \(alert) with the expected expression")
            }
            let indent = lines[duration].prefix { $0 == " " }
            lines[duration] = indent + "for: 2s"
            return lines.joined(separator: "\n")
        }

        /// The clone alert Prometheus holds in `state` (pending or firing), if any.
        static func cloneAlert(_ prometheus: PrometheusServer, state: String? = nil) throws -> [String: Any]? {
            try prometheus.alerts().first { alert in
                (alert["labels"] as? [String: String])?["alertname"] == Self.alert
                    && (state == nil || alert["state"] as? String == state)
            }
        }

        /// Polls `condition` every 200 ms; throws with `explain()` after `timeout` seconds.
        static func waitFor(
            _ what: String, timeout: Double, explain: () -> String, _ condition: () throws -> Bool
        ) throws -> Double {
            let start = Date()
            while Date().timeIntervalSince(start) < timeout {
                if try condition() { return Date().timeIntervalSince(start) }
                Thread.sleep(forTimeInterval: 0.2)
            }
            throw DaemonTestError("\(what) within \(timeout) s: \(explain())")
        }

        @Test(
            "two daemons from one copied state directory fire GeniddCloneWithoutSignal; a change on one clears it"
        )
        func cloneAlertFiresAndClears() throws {
            let started = Date()
            let pair = try ClonedPair()
            let shared = try GenerationID.generationID(pair.original)
            #expect(try GenerationID.generationID(pair.clone) == shared, "the clone restored the original's id")
            let directory = try DaemonProcess.makeDirectory()
            let prometheus = try PrometheusServer(
                directory: directory, rules: try Self.rules(), targets: [pair.original.port, pair.clone.port])
            let explain = {
                let series = (try? prometheus.query("genidd_generation_info")) ?? []
                return "targets: \(prometheus.targetHealth()); genidd_generation_info: "
                    + series.map { "\($0.labels["instance"] ?? "?") \($0.labels["generation_id"] ?? "?")" }
                    .joined(separator: ", ") + "; alerts: \((try? prometheus.alerts()) ?? [])\n"
                    + prometheus.log.suffix(2000)
            }

            let firing = try Self.waitFor("the clone alert did not fire", timeout: 30, explain: explain) {
                try Self.cloneAlert(prometheus, state: "firing") != nil
            }
            let alert = try #require(try Self.cloneAlert(prometheus, state: "firing"))
            let labels = alert["labels"] as? [String: String] ?? [:]
            #expect(labels["generation_id"] == shared, "\(alert)")
            #expect(labels["severity"] == "critical", "\(alert)")
            let summary = (alert["annotations"] as? [String: String])?["summary"] ?? ""
            #expect(summary.hasPrefix("2 machines share genidd generation_id \(shared)"), "\(summary)")

            // The clone's hypervisor (or a person) finally tells it: a change.
            try pair.cloneCounter.replace("2")
            try waitForSeq(pair.clone, 2)
            #expect(try GenerationID.generationID(pair.clone) != shared)
            let cleared = try Self.waitFor("the clone alert did not clear", timeout: 30, explain: explain) {
                try Self.cloneAlert(prometheus) == nil
            }
            #expect(try GenerationID.generationID(pair.original) == shared, "the original saw no change")
            let total = Date().timeIntervalSince(started)
            print(
                "fleet alert: firing \(String(format: "%.1f", firing)) s after Prometheus was ready, "
                    + "cleared \(String(format: "%.1f", cleared)) s after the change; whole test \(String(format: "%.1f", total)) s"
            )
        }
    }
}
