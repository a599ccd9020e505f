import Foundation
import Testing

extension DaemonTests {
    @Suite("uevent source: only the kernel's NEW_VMGENID uevents count")
    struct Uevent {
        @Test(
            "a userspace-forged NEW_VMGENID broadcast and a kernel uevent without NEW_VMGENID are both ignored",
            .enabled(if: getuid() == 0, "broadcasting on the uevent netlink group needs root"))
        func forgedIgnored() throws {
            let directory = try DaemonProcess.makeDirectory()
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "uevent", "--log-level", "debug"])
            let watch = try ChangeWatch(daemon)
            #expect(try request(daemon.tcp, "/v1/generation").json["source"] as? String == "uevent")
            // Root can broadcast to group 1 from userspace; its netlink port id is not 0.
            let forged =
                "change@/devices/platform/VMGENCTR:00\0ACTION=change\0DEVPATH=/devices/platform/VMGENCTR:00\0"
                + "SUBSYSTEM=platform\0DRIVER=vmgenid\0NEW_VMGENID=1\0SEQNUM=999999\0"
            let script = """
                import socket, sys
                s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)
                s.bind((0, 0))
                s.sendto(sys.stdin.buffer.read(), (0, 1))
                """
            try watch.expectNoChange(for: 0.5) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["python3", "-c", script]
                let input = Pipe()
                process.standardInput = input
                try process.run()
                input.fileHandleForWriting.write(Data(forged.utf8))
                try input.fileHandleForWriting.close()
                process.waitUntilExit()
                #expect(process.terminationStatus == 0)
            }
            #expect(try daemon.waitForLine(containing: "ignored a uevent broadcast from userspace", timeout: 2) != nil)

            // A real kernel uevent for the vmgenid device, without NEW_VMGENID=1.
            let trigger = ["/sys/bus/platform/devices/VMGENCTR:00/uevent", "/sys/bus/acpi/devices/VMGENCTR:00/uevent"]
                .first { FileManager.default.fileExists(atPath: $0) }
            if let trigger {
                try watch.expectNoChange(for: 0.5) {
                    try Data("change".utf8).write(to: URL(fileURLWithPath: trigger))
                }
                #expect(try daemon.waitForLine(containing: "vmgenid uevent without NEW_VMGENID", timeout: 2) != nil)
            }
        }

        @Test("a restart within a boot is reported as a change: missed uevents cannot be replayed")
        func restartIsDoubt() throws {
            let directory = try DaemonProcess.makeDirectory()
            var daemon = try DaemonProcess(directory: directory, arguments: ["--source", "uevent"])
            #expect(try request(daemon.tcp, "/v1/generation").json["seq"] as? Int == 1)
            #expect(daemon.terminate()?.status == 0)
            daemon = try DaemonProcess(directory: directory, arguments: ["--source", "uevent"])
            let state = try request(daemon.tcp, "/v1/generation").json
            #expect(state["seq"] as? Int == 2)
            #expect(daemon.log.contains("cannot be replayed"))
        }
    }
}
