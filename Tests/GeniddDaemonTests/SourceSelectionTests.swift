import Foundation
import Testing

extension DaemonTests {
    @Suite("--source auto and kmsg on this machine's real kernel log")
    struct SourceSelection {
        /// A probe root whose sysfs has a device bound to the vmgenid driver and
        /// whose /dev/kmsg is the real one.
        static func probeRootWithVmgenid(in directory: URL, bound: Bool = true) throws -> String {
            let root = directory.appendingPathComponent("probe")
            let driver = root.appendingPathComponent("sys/bus/platform/drivers/vmgenid")
            try FileManager.default.createDirectory(at: driver, withIntermediateDirectories: true)
            for file in ["bind", "unbind", "uevent"] {
                _ = FileManager.default.createFile(atPath: driver.appendingPathComponent(file).path, contents: nil)
            }
            if bound {
                try FileManager.default.createDirectory(
                    at: driver.appendingPathComponent("VMGENCTR:00"), withIntermediateDirectories: true)
            }
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent("dev"), withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: root.appendingPathComponent("dev/kmsg").path, withDestinationPath: "/dev/kmsg")
            return root.path
        }

        /// VM fork records of the kernel facility in the live kernel log, counted
        /// independently of genidd with `dmesg --raw` style parsing of /dev/kmsg.
        static func kernelForkRecords() throws -> Int {
            let fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK)
            guard fd >= 0 else { throw DaemonTestError("cannot read /dev/kmsg") }
            defer { close(fd) }
            var count = 0
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EPIPE { continue }
                if n <= 0 { break }
                let text = String(decoding: buffer[0..<n], as: UTF8.self)
                let header = text.prefix { $0 != ";" }
                let priority = Int(header.split(separator: ",").first ?? "") ?? -1
                let message = text.drop { $0 != ";" }.dropFirst().prefix { $0 != "\n" }
                if priority >= 0 && priority >> 3 == 0 && message == "random: crng reseeded due to virtual machine fork"
                {
                    count += 1
                }
            }
            return count
        }

        @Test("auto picks kmsg when the vmgenid driver is bound, says why, and counts the kernel's fork records")
        func autoPicksKmsg() throws {
            let directory = try DaemonProcess.makeDirectory()
            let root = try Self.probeRootWithVmgenid(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", "auto", "--probe-root", root])
            let state = try request(daemon.tcp, "/v1/generation").json
            #expect(state["source"] as? String == "kmsg")
            #expect(state["generation"] as? Int == (try Self.kernelForkRecords()))
            #expect(state["stale"] as? Bool == false)
            #expect(daemon.log.contains("VMGENCTR:00"))
        }

        @Test("auto exits non-zero and says what it looked for when no source exists")
        func autoFindsNothing() throws {
            let directory = try DaemonProcess.makeDirectory()
            let root = try Self.probeRootWithVmgenid(in: directory, bound: false)
            let result = try runCommand(
                DaemonProcess.binary,
                [
                    "serve", "--source", "auto", "--probe-root", root, "--state-dir",
                    directory.appendingPathComponent("s").path,
                ])
            #expect(result.status != 0)
            #expect(result.output.contains("no VM generation source found"))
            #expect(result.output.contains("vmgenid"))
            #expect(result.output.contains("--source file:PATH"))
        }

        @Test(
            "kmsg ignores a fork message forged from userspace and keeps seq across restarts",
            .enabled(if: getuid() == 0, "writing to /dev/kmsg needs root"))
        func kmsgIgnoresForgery() throws {
            let directory = try DaemonProcess.makeDirectory()
            var daemon = try DaemonProcess(directory: directory, arguments: ["--source", "kmsg"])
            let before = try request(daemon.tcp, "/v1/generation").json
            #expect(before["seq"] as? Int == 1)
            let forks = try Self.kernelForkRecords()
            #expect(before["generation"] as? Int == forks)
            let stream = try EventStreamClient(daemon.tcp)
            _ = stream.nextEvent(timeout: 5)

            // Userspace writes get facility LOG_USER even when they claim <0>.
            let kmsg = open("/dev/kmsg", O_WRONLY)
            #expect(kmsg >= 0)
            for forged in [
                "<0>random: crng reseeded due to virtual machine fork",
                "<6>random: crng reseeded due to virtual machine fork",
            ] {
                _ = forged.withCString { write(kmsg, $0, strlen($0)) }
            }
            close(kmsg)
            #expect(stream.nextEvent(timeout: 0.5) == nil, "a forged record must not produce a change")
            #expect(try request(daemon.tcp, "/v1/generation").json["seq"] as? Int == 1)

            #expect(daemon.terminate()?.status == 0)
            daemon = try DaemonProcess(directory: directory, arguments: ["--source", "kmsg"])
            let after = try request(daemon.tcp, "/v1/generation").json
            #expect(after["seq"] as? Int == 1)
            #expect(after["generation"] as? Int == forks)
            #expect(after["instance"] as? String == before["instance"] as? String)
        }
    }
}
