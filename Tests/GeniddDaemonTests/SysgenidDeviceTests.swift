import Foundation
import Testing

extension DaemonTests {
    @Suite(
        "sysgenid character-device semantics, on the FUSE emulation",
        .enabled(if: SysgenidEmulator.available, "the FUSE emulation needs root and /dev/fuse"))
    struct SysgenidDevice {
        @Test("a restore is noticed through poll(), delivered, then acknowledged to the driver")
        func changeAndAcknowledge() throws {
            let directory = try DaemonProcess.makeDirectory()
            let emulator = try SysgenidEmulator(in: directory, initial: 3)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "sysgenid:\(emulator.device)"])
            let initial = try request(daemon.tcp, "/v1/generation").json
            #expect(initial["generation"] as? Int == 3, "the current counter comes from the mapped page")
            let ready = try request(daemon.tcp, "/readyz").json
            #expect(ready["notification"] as? String == "poll")
            #expect(ready["sysgenid_abi"] as? String == "v4", "\(ready)")
            #expect(ready["kernel_outdated_watchers"] as? Int == 0)
            _ = try emulator.waitForStatus { $0["watchers"] == 1 && $0["pollers"] == 1 }

            let watch = try ChangeWatch(daemon)
            let change = try watch.expectChange { try emulator.control("bump") }
            #expect(change.state["generation"] as? Int == 4)
            #expect(change.latency < 0.5, "poll()-driven change answered after \(change.latency) s")
            let acknowledged = try emulator.waitForStatus { $0["acks"] == 1 }
            #expect(acknowledged["outdated"] == 0, "genidd is no longer an outdated watcher")
            #expect(try request(daemon.tcp, "/readyz").json["kernel_outdated_watchers"] as? Int == 0)

            let backwards = try watch.expectChange { try emulator.control("set 1") }
            #expect(backwards.state["generation"] as? Int == 1, "a counter going backwards is a change")
            _ = try emulator.waitForStatus { $0["acks"] == 2 && $0["outdated"] == 0 }
        }

        @Test(
            "genidd acknowledges only after the change reached every subscriber (or a 1 s grace passed)",
            arguments: ["v4", "v7"])
        func acknowledgesAfterDelivery(abi: String) throws {
            let directory = try DaemonProcess.makeDirectory()
            let emulator = try SysgenidEmulator(in: directory, initial: 10, abi: abi)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", "sysgenid:\(emulator.device)", "--heartbeat", "1ms"])
            // A subscriber that never reads. On a Unix socket the sender's buffer
            // is fixed (no autotuning) and each small write is charged in full,
            // so 1 ms heartbeats fill it quickly and the next event cannot be written.
            let stuck = try TestSocket(daemon.unix)
            try stuck.sendRequest("GET", "/v1/events")
            _ = try emulator.waitForStatus { $0["pollers"] == 1 }
            Thread.sleep(forTimeInterval: 2)

            let start = Date()
            try emulator.control("bump")
            let acknowledged = try emulator.waitForStatus(timeout: 10) { $0["acks"] == 1 }
            let elapsed = Date().timeIntervalSince(start)
            #expect(acknowledged["watchers"] == 1 && acknowledged["outdated"] == 0, "\(acknowledged)")
            #expect(elapsed >= 0.9, "acknowledged \(elapsed) s after the change, before delivery")
            #expect(try daemon.waitForLine(containing: "had not taken the change after 1 s", timeout: 2) != nil)
        }

        @Test("--ack-policy watchers holds the kernel acknowledgement until every HTTP watcher acknowledged")
        func acknowledgementWaitsForWatchers() throws {
            let directory = try DaemonProcess.makeDirectory()
            let emulator = try SysgenidEmulator(in: directory, initial: 1)
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", "sysgenid:\(emulator.device)", "--ack-policy", "watchers", "--admin-uid", "0"])
            #expect(try Watchers.call(daemon, "PUT", "container").status == 201)
            _ = try emulator.waitForStatus { $0["pollers"] == 1 }
            let watch = try ChangeWatch(daemon)
            _ = try watch.expectChange { try emulator.control("bump") }
            Thread.sleep(forTimeInterval: 0.5)
            #expect(try emulator.status()["acks"] == 0, "genidd must not acknowledge before its watchers")
            #expect(try emulator.status()["outdated"] == 1)
            let acknowledged = try request(
                daemon.tcp, "/v1/watchers/container/ack", method: "POST",
                headers: [("Content-Type", "application/json"), Watchers.secret], body: "{\"seq\":\(watch.seq)}")
            #expect(acknowledged.status == 200)
            let status = try emulator.waitForStatus(timeout: 2) { $0["acks"] == 1 }
            #expect(status["outdated"] == 0)
        }

        @Test(
            "bump on the device issues FORCE_GEN_UPDATE(min) as the device's revision numbers it",
            arguments: ["v4", "v5", "v7"])
        func bumpDevice(abi: String) throws {
            let directory = try DaemonProcess.makeDirectory()
            let emulator = try SysgenidEmulator(in: directory, initial: 4, abi: abi)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "sysgenid:\(emulator.device)", "--admin-uid", "0"])
            let bumped = try request(
                daemon.unix, "/v1/generation/bump", method: "POST", headers: [("Content-Type", "application/json")],
                body: "{\"min\": 40}")
            #expect(bumped.status == 200, "\(bumped.text)")
            #expect(bumped.json["generation"] as? Int == 40)
            #expect(try emulator.status()["generation"] == 40)
            #expect(try emulator.status()["changes"] == 1, "the ABI probes changed nothing")
        }

        @Test("other watchers' outdated count is reported; a vanished device is stale, then a new seq")
        func outdatedWatchersAndVanishing() throws {
            let directory = try DaemonProcess.makeDirectory()
            let emulator = try SysgenidEmulator(in: directory, initial: 1)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "sysgenid:\(emulator.device)"])
            let other = open(emulator.device, O_RDWR | O_NONBLOCK)
            #expect(other >= 0)
            _ = try emulator.waitForStatus { $0["watchers"] == 2 }
            let watch = try ChangeWatch(daemon)
            _ = try watch.expectChange { try emulator.control("bump") }
            _ = try emulator.waitForStatus { $0["acks"] == 1 && $0["outdated"] == 1 }
            #expect(try request(daemon.tcp, "/readyz").json["kernel_outdated_watchers"] as? Int == 1)
            close(other)

            emulator.stop()
            let stale = try waitForReadiness(daemon) { $0.status == 503 }
            #expect((stale.json["detail"] as? String)?.contains(emulator.device) == true, "\(stale.text)")
            #expect(try request(daemon.tcp, "/v1/generation").json["stale"] as? Bool == true)
            try emulator.start(initial: 2)
            try waitForReady(daemon, status: 200)
            let state = try request(daemon.tcp, "/v1/generation").json
            #expect(state["seq"] as? Int == watch.seq + 1, "the device came back: reported as a change")
            #expect(state["generation"] as? Int == 2)
        }
    }
}
