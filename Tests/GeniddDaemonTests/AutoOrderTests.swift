import Foundation
import Testing

extension DaemonTests {
    @Suite("--source auto prefers vmclock (with counter) > sysgenid > vmgenid > kmsg")
    struct AutoOrder {
        /// Starts genidd with `--source auto` on a probe root holding the given devices.
        func start(
            vmclockFlags: UInt64?, sysgenid: Bool, vmgenid: Bool
        ) throws -> (DaemonProcess, VMClockFixture?) {
            let directory = try DaemonProcess.makeDirectory()
            let root = try SourceSelection.probeRootWithVmgenid(in: directory)
            var clock: VMClockFixture?
            if let flags = vmclockFlags {
                clock = try VMClockFixture(path: root + "/dev/vmclock0", flags: flags, counter: 77)
            }
            if sysgenid {
                try DevicePageFixture(path: root + "/dev/sysgenid", size: 4).write32(55, at: 0)
            }
            if vmgenid {
                try DevicePageFixture(path: root + "/dev/vmgenid").write32(33, at: 0)
            }
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", "auto", "--probe-root", root, "--check-interval", "20ms"])
            return (daemon, clock)
        }

        @Test("each source is chosen when the better ones are absent")
        func order() throws {
            let cases: [(UInt64?, Bool, Bool, String, Int?)] = [
                (VMClockFixture.generationCounterPresent, true, true, "vmclock", 77),
                (nil, true, true, "sysgenid", 55),
                (nil, false, true, "vmgenid", 33),
                (nil, false, false, "kmsg", nil),
            ]
            for (flags, sysgenid, vmgenid, expected, generation) in cases {
                let (daemon, _) = try start(vmclockFlags: flags, sysgenid: sysgenid, vmgenid: vmgenid)
                let state = try request(daemon.tcp, "/v1/generation").json
                let source = state["source"] as? String ?? ""
                #expect(source.hasPrefix(expected), "chose \(source), expected \(expected)")
                if let generation {
                    #expect(state["generation"] as? Int == generation)
                }
                #expect(daemon.log.contains("source chosen"))
            }
        }

        @Test("a VMClock without a generation counter is declined (and says so) but its disruptions are still reported")
        func vmclockWithoutCounter() throws {
            let (daemon, clock) = try start(vmclockFlags: 0, sysgenid: false, vmgenid: false)
            let state = try request(daemon.tcp, "/v1/generation").json
            #expect(state["source"] as? String == "kmsg")
            #expect(daemon.log.contains("without a VM generation counter"))
            let stream = try EventStreamClient(daemon.tcp)
            _ = stream.nextEvent(timeout: 5)
            try #require(clock).setMarker(1234)
            let event = try #require(stream.nextEvent(timeout: 5))
            #expect(event.event == "clock-disruption")
            #expect(event.json["disruption_marker"] as? Int == 1234)
            let ready = try request(daemon.tcp, "/readyz").json
            #expect(ready["source"] as? String == "kmsg")
            #expect(ready["vmclock_disruption_marker"] as? Int == 1234, "the watched VMClock shows in /readyz")
            #expect(try request(daemon.tcp, "/v1/generation").json["seq"] as? Int == state["seq"] as? Int)
        }
    }
}
