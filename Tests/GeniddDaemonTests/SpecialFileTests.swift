import Foundation
import Testing

extension DaemonTests {
    @Suite("FIFOs and other special files where genidd expects a regular file: errors, never a hang")
    struct SpecialFiles {
        @Test(
            "a FIFO renamed over the counter file: stale and 503 at once, recovery, and SIGTERM still exits within a second"
        )
        func fifoCounter() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "4")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let fifo = directory.appendingPathComponent("fifo").path
            #expect(mkfifo(fifo, 0o600) == 0)
            #expect(rename(fifo, counter.path) == 0)
            let ready = try waitForReadiness(daemon) { $0.status == 503 }
            #expect(
                (ready.json["detail"] as? String)?.contains("is a FIFO, not a regular file") == true, "\(ready.text)")
            #expect(try request(daemon.tcp, "/v1/generation").json["stale"] as? Bool == true)

            try counter.replace("5")
            try waitForReady(daemon, status: 200)
            #expect(try request(daemon.tcp, "/v1/generation").json["generation"] as? Int == 5)

            #expect(mkfifo(fifo, 0o600) == 0)
            #expect(rename(fifo, counter.path) == 0)
            try waitForReady(daemon, status: 503)
            let exit = try #require(daemon.terminate(timeout: 5), "genidd did not exit\n\(daemon.log)")
            #expect(exit.status == 0)
            #expect(exit.seconds < 1.0, "exit took \(exit.seconds) s")
        }

        @Test("a FIFO as state.json or lock, or as a token file, refuses the start with an error naming it, at once")
        func fifoAtStart() throws {
            for name in ["state.json", "lock"] {
                let directory = try DaemonProcess.makeDirectory()
                let state = directory.appendingPathComponent("state")
                try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
                #expect(mkfifo(state.appendingPathComponent(name).path, 0o600) == 0)
                let start = Date()
                let result = try runCommand(
                    DaemonProcess.binary,
                    ["serve", "--source", "file:/nonexistent", "--state-dir", state.path, "--listen", "127.0.0.1:0"],
                    timeout: 10)
                #expect(Date().timeIntervalSince(start) < 5, "\(name): the start hung")
                #expect(result.status != 0, "\(name)")
                #expect(
                    result.output.contains("\(state.path)/\(name): is a FIFO, not a regular file"), "\(result.output)")
            }
            let directory = try DaemonProcess.makeDirectory()
            let token = directory.appendingPathComponent("token").path
            #expect(mkfifo(token, 0o600) == 0)
            let result = try runCommand(
                DaemonProcess.binary,
                [
                    "serve", "--source", "file:/nonexistent", "--state-dir", directory.appendingPathComponent("s").path,
                    "--listen", "127.0.0.1:0", "--read-token-file", token,
                ], timeout: 10)
            #expect(result.status != 0)
            #expect(result.output.contains("--read-token-file: \(token): is a FIFO"), "\(result.output)")
        }

        @Test("a FIFO as --uuid-file or device path: the daemon runs, says what is wrong, and never blocks")
        func fifoDevices() throws {
            let directory = try DaemonProcess.makeDirectory()
            let uuid = directory.appendingPathComponent("uuid").path
            let device = directory.appendingPathComponent("vmgenid").path
            #expect(mkfifo(uuid, 0o600) == 0)
            #expect(mkfifo(device, 0o600) == 0)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "vmgenid:\(device)", "--uuid-file", uuid])
            let ready = try waitForReadiness(daemon) { $0.status == 503 }
            #expect(
                (ready.json["detail"] as? String)?.contains("neither a character device nor a regular file") == true,
                "\(ready.text)")
            #expect(daemon.log.contains("\(uuid): is a FIFO"))
            let exit = try #require(daemon.terminate(timeout: 5))
            #expect(exit.status == 0 && exit.seconds < 1.0)
        }
    }
}
