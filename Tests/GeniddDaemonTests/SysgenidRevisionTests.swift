import Foundation
import Testing

extension DaemonTests {
    @Suite(
        "sysgenid's later ioctl ABIs (v5, v7) on the FUSE emulation: detected at open and used",
        .enabled(if: SysgenidEmulator.available, "the FUSE emulation needs root and /dev/fuse"))
    struct SysgenidRevision {
        @Test(
            "each revision is detected without touching the device, reported in /readyz and the log",
            arguments: ["v4", "v5", "v7"])
        func detected(abi: String) throws {
            let directory = try DaemonProcess.makeDirectory()
            let emulator = try SysgenidEmulator(in: directory, initial: 8, abi: abi)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "sysgenid:\(emulator.device)"])
            let ready = try request(daemon.tcp, "/readyz").json
            #expect(ready["sysgenid_abi"] as? String == abi, "\(ready)")
            #expect(
                (ready["kernel_outdated_watchers"] != nil) == (abi == "v4"),
                "only v4 lets userspace count outdated watchers: \(ready)")
            let chosen = try #require(try daemon.waitForLine(containing: "source chosen", timeout: 2))
            #expect(chosen.contains("sysgenid_abi=\(abi)"), "\(chosen)")
            let status = try emulator.waitForStatus { $0["pollers"] == 1 }
            #expect(status["changes"] == 0 && status["acks"] == 0 && status["generation"] == 8, "\(status)")
            #expect(status["watchers"] == 1, "genidd is a watcher the driver counts (v7: it opted in): \(status)")
            #expect(status["outdated"] == 0, "\(status)")
        }

        @Test(
            "v5 and v7: a restore is delivered, then acknowledged; v7 counts only handles that opted in, genidd among them",
            arguments: ["v5", "v7"])
        func changeAndAcknowledge(abi: String) throws {
            let directory = try DaemonProcess.makeDirectory()
            let emulator = try SysgenidEmulator(in: directory, initial: 3, abi: abi)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "sysgenid:\(emulator.device)"])
            // Another program with the device open, not (yet) tracked under v7.
            let other = open(emulator.device, O_RDWR | O_NONBLOCK)
            #expect(other >= 0)
            defer { close(other) }
            _ = try emulator.waitForStatus { $0["handles"] == 2 && $0["pollers"] == 1 }
            #expect(try emulator.status()["watchers"] == (abi == "v7" ? 1 : 2), "v7 counts only opted-in handles")

            let watch = try ChangeWatch(daemon)
            let change = try watch.expectChange { try emulator.control("bump") }
            #expect(change.state["generation"] as? Int == 4)
            let acknowledged = try emulator.waitForStatus { $0["acks"] == 1 }
            let otherOutdated = abi == "v7" ? 0 : 1
            #expect(acknowledged["outdated"] == otherOutdated, "genidd is up to date again: \(acknowledged)")
            let ready = try request(daemon.tcp, "/readyz").json
            #expect(ready["kernel_outdated_watchers"] == nil, "\(ready)")
        }

        @Test("v7: --ack-policy watchers holds the tracked watcher outdated until every HTTP watcher acknowledged")
        func heldForWatchers() throws {
            let directory = try DaemonProcess.makeDirectory()
            let emulator = try SysgenidEmulator(in: directory, initial: 1, abi: "v7")
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", "sysgenid:\(emulator.device)", "--ack-policy", "watchers", "--admin-uid", "0"])
            #expect(try Watchers.call(daemon, "PUT", "container").status == 201)
            _ = try emulator.waitForStatus { $0["pollers"] == 1 && $0["watchers"] == 1 }
            let watch = try ChangeWatch(daemon)
            _ = try watch.expectChange { try emulator.control("bump") }
            Thread.sleep(forTimeInterval: 0.5)
            let held = try emulator.status()
            #expect(held["acks"] == 0 && held["outdated"] == 1, "an orchestrator's WAIT_WATCHERS still waits: \(held)")
            let acknowledged = try request(
                daemon.tcp, "/v1/watchers/container/ack", method: "POST",
                headers: [("Content-Type", "application/json"), Watchers.secret], body: "{\"seq\":\(watch.seq)}")
            #expect(acknowledged.status == 200)
            let status = try emulator.waitForStatus(timeout: 2) { $0["acks"] == 1 }
            #expect(status["outdated"] == 0)
        }
    }
}
