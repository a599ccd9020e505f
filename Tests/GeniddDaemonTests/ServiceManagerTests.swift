import Foundation
import Testing

extension DaemonTests {
    @Suite("systemd: socket activation and readiness notification")
    struct ServiceManager {
        @Test(
            "genidd serves on the TCP and Unix listeners the service manager passes (LISTEN_FDS)",
            .enabled(
                if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-socket-activate"),
                "needs systemd-socket-activate"))
        func socketActivation() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "9")
            let port = try unusedPort()
            let socketPath = directory.appendingPathComponent("activated.sock").path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-socket-activate")
            process.arguments = [
                "-l", "127.0.0.1:\(port)", "-l", socketPath, DaemonProcess.binary, "serve", "--source",
                counter.sourceArgument, "--state-dir", directory.appendingPathComponent("state").path,
            ]
            let log = Pipe()
            process.standardError = log
            process.standardOutput = log
            try process.run()
            defer {
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
            }
            // The activator starts genidd on the first connection.
            let deadline = Date().addingTimeInterval(10)
            var tcp: HTTPReply?
            while tcp == nil && Date() < deadline {
                tcp = try? request(.tcp(port: port), "/v1/generation", timeout: 5)
                if tcp == nil { Thread.sleep(forTimeInterval: 0.05) }
            }
            #expect(tcp?.json["generation"] as? Int == 9)
            let unix = try request(.unix(path: socketPath), "/v1/generation")
            #expect(unix.json["generation"] as? Int == 9)
            #expect(
                !FileManager.default.fileExists(atPath: directory.appendingPathComponent("state/genidd.sock").path),
                "with inherited listeners genidd opens none of its own")
        }

        @Test("READY=1 reaches NOTIFY_SOCKET once genidd serves, STOPPING=1 on SIGTERM")
        func readiness() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let notifyPath = directory.appendingPathComponent("notify.sock").path
            let listener = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(listener) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in notifyPath.utf8.enumerated() { raw[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            #expect(bound == 0)
            setenv("NOTIFY_SOCKET", notifyPath, 1)
            defer { unsetenv("NOTIFY_SOCKET") }
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            func receive() -> String? {
                var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&entry, 1, 5000) == 1 else { return nil }
                var buffer = [UInt8](repeating: 0, count: 512)
                let count = buffer.withUnsafeMutableBytes { recv(listener, $0.baseAddress, $0.count, 0) }
                return count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self) : nil
            }
            let ready = try #require(receive())
            #expect(ready.hasPrefix("READY=1"))
            #expect(ready.contains("STATUS=serving seq 1"))
            #expect(daemon.terminate()?.status == 0)
            #expect(receive() == "STOPPING=1")
        }
    }
}
