import Foundation
import Testing

extension DaemonTests {
    @Suite("vmgenid, sysgenid (file layout) and vmclock sources on emulated device pages")
    struct DeviceSources {
        @Test("vmgenid: changes, a counter going backwards, garbage and a vanished device")
        func vmgenid() throws {
            let directory = try DaemonProcess.makeDirectory()
            let path = directory.appendingPathComponent("vmgenid").path
            let device = try DevicePageFixture(path: path)
            device.write32(41, at: 0)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "vmgenid:\(path)", "--check-interval", "20ms"])
            let watch = try ChangeWatch(daemon)
            #expect(try request(daemon.tcp, "/v1/generation").json["generation"] as? Int == 41)
            let ready = try request(daemon.tcp, "/readyz").json
            #expect(ready["notification"] as? String == "interval")
            #expect(ready["check_interval_ms"] as? Int == 20)

            let change = try watch.expectChange { device.write32(42, at: 0) }
            #expect(change.state["generation"] as? Int == 42)
            #expect(change.latency < 0.5, "interval check answered after \(change.latency) s")
            let backwards = try watch.expectChange { device.write32(7, at: 0) }
            #expect(backwards.state["generation"] as? Int == 7, "a counter going backwards is a change")

            // Shrinking the mapped file must give a clear error, not SIGBUS.
            device.truncate(to: 2)
            let problem = try waitForReadiness(daemon) { $0.status == 503 }
            #expect((problem.json["detail"] as? String)?.contains("needs 4") == true, "\(problem.text)")
            #expect(daemon.process.isRunning)
            device.truncate(to: 4096)
            device.write32(8, at: 0)
            try waitForReady(daemon, status: 200)

            // The device disappears and comes back: stale meanwhile, then a new seq.
            let before = try request(daemon.tcp, "/v1/generation").json["seq"] as? Int ?? 0
            unlink(path)
            try waitForReady(daemon, status: 503)
            #expect(try request(daemon.tcp, "/v1/generation").json["stale"] as? Bool == true)
            let again = try DevicePageFixture(path: path)
            again.write32(8, at: 0)
            try waitForReady(daemon, status: 200)
            let after = try request(daemon.tcp, "/v1/generation").json
            #expect((after["seq"] as? Int ?? 0) > before, "a device that vanished and came back is a change")
            #expect(after["generation"] as? Int == 8)
        }

        @Test("vmgenid: a file too small to hold the counter is refused with a clear error")
        func vmgenidGarbage() throws {
            let directory = try DaemonProcess.makeDirectory()
            let path = directory.appendingPathComponent("vmgenid").path
            let device = try DevicePageFixture(path: path, size: 3)
            _ = device
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", "vmgenid:\(path)"])
            let ready = try request(daemon.tcp, "/readyz")
            #expect(ready.status == 503)
            #expect((ready.json["detail"] as? String)?.contains("holds 3 bytes") == true, "\(ready.text)")
        }

        @Test("sysgenid file layout (AWS-LC's): in-place writes are noticed by inotify")
        func sysgenidFile() throws {
            let directory = try DaemonProcess.makeDirectory()
            let path = directory.appendingPathComponent("sysgenid").path
            let device = try DevicePageFixture(path: path, size: 4)
            device.write32(3, at: 0)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", "sysgenid:\(path)"])
            let watch = try ChangeWatch(daemon)
            #expect(try request(daemon.tcp, "/readyz").json["notification"] as? String == "poll")
            let change = try watch.expectChange { device.write32(4, at: 0) }
            #expect(change.state["generation"] as? Int == 4)
            #expect(change.state["source"] as? String == "sysgenid:\(path)")
            #expect(change.latency < 0.5, "inotify-driven change answered after \(change.latency) s")
            _ = try watch.expectChange { device.write32(1, at: 0) }
            try watch.expectNoChange { device.write32(1, at: 0) }

            unlink(path)
            try waitForReady(daemon, status: 503)
            let again = try DevicePageFixture(path: path, size: 4)
            again.write32(1, at: 0)
            try waitForReady(daemon, status: 200)
            #expect(try request(daemon.tcp, "/v1/generation").json["seq"] as? Int == watch.seq + 1)
        }

        @Test("vmclock with notification: each counter update is a change; a torn update is never read")
        func vmclockNotified() throws {
            let directory = try DaemonProcess.makeDirectory()
            let path = directory.appendingPathComponent("vmclock0").path
            let clock = try VMClockFixture(
                path: path, flags: VMClockFixture.generationCounterPresent | VMClockFixture.notificationPresent,
                counter: 5)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", "vmclock:\(path)"])
            let watch = try ChangeWatch(daemon)
            let initial = try request(daemon.tcp, "/v1/generation").json
            #expect(initial["generation"] as? Int == 5)
            #expect(initial["source"] as? String == "vmclock:\(path)")
            #expect(try request(daemon.tcp, "/readyz").json["notification"] as? String == "inotify")
            #expect(daemon.log.contains("source chosen notification=inotify"), "the log names how changes are noticed")

            let change = try watch.expectChange { clock.setCounter(6) }
            #expect(change.state["generation"] as? Int == 6)
            #expect(change.latency < 0.5, "notified change answered after \(change.latency) s")

            // The hypervisor is mid-update (seq_count odd) with the counter already
            // written: genidd must not report it until the update completes.
            try watch.expectNoChange(for: 0.5) {
                clock.beginUpdate()
                clock.page.write64(7, at: VMClockFixture.Offset.vmGenerationCounter)
            }
            let completed = try watch.expectChange { clock.endUpdate() }
            #expect(completed.state["generation"] as? Int == 7)

            let backwards = try watch.expectChange { clock.setCounter(2) }
            #expect(backwards.state["generation"] as? Int == 2)
        }

        @Test("vmclock without notification is checked at the interval; disruptions are their own SSE event")
        func vmclockIntervalAndDisruption() throws {
            let directory = try DaemonProcess.makeDirectory()
            let path = directory.appendingPathComponent("vmclock0").path
            let clock = try VMClockFixture(path: path, flags: VMClockFixture.generationCounterPresent, counter: 1)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "vmclock:\(path)", "--check-interval", "20ms"])
            let watch = try ChangeWatch(daemon)
            #expect(try request(daemon.tcp, "/readyz").json["notification"] as? String == "interval")
            _ = try watch.expectChange { clock.setCounter(2) }

            clock.setMarker(99)
            let disruption = try #require(watch.stream.nextEvent(timeout: 5))
            #expect(disruption.event == "clock-disruption")
            #expect(
                disruption.id == "\(watch.instance).\(watch.seq)",
                "a disruption carries the current state's id: resuming from it misses nothing")
            #expect(disruption.json["disruption_marker"] as? Int == 99)
            #expect(
                try request(daemon.tcp, "/v1/generation").json["seq"] as? Int == watch.seq, "no reseed for a migration")
        }

        @Test("vmclock garbage: bad magic or a vanished page makes the state stale with a clear error, then recovers")
        func vmclockGarbage() throws {
            let directory = try DaemonProcess.makeDirectory()
            let path = directory.appendingPathComponent("vmclock0").path
            let clock = try VMClockFixture(path: path, flags: VMClockFixture.generationCounterPresent, counter: 3)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "vmclock:\(path)", "--check-interval", "20ms"])
            clock.writeRaw32(0xdead_beef, at: VMClockFixture.Offset.magic)
            let problem = try waitForReadiness(daemon) { $0.status == 503 }
            #expect((problem.json["detail"] as? String)?.contains("bad magic") == true, "\(problem.text)")
            #expect(daemon.process.isRunning)
            clock.writeRaw32(VMClockFixture.magic, at: VMClockFixture.Offset.magic)
            try waitForReady(daemon, status: 200)

            unlink(path)
            try waitForReady(daemon, status: 503)
            _ = try VMClockFixture(path: path, flags: VMClockFixture.generationCounterPresent, counter: 3)
            try waitForReady(daemon, status: 200)
            #expect(try request(daemon.tcp, "/v1/generation").json["stale"] as? Bool == false)
        }
    }
}
