import Foundation
import Testing

extension DaemonTests {
    @Suite("The genidd command line")
    struct CommandLine {
        @Test("--help, serve --help and --version read well")
        func help() throws {
            let help = try runCommand(DaemonProcess.binary, ["--help"])
            #expect(help.status == 0)
            #expect(help.output.contains("serve"))
            let serveHelp = try runCommand(DaemonProcess.binary, ["serve", "--help"])
            #expect(serveHelp.status == 0)
            for flag in [
                "--source", "--listen", "--unix", "--unix-mode", "--unix-group", "--state-dir", "--heartbeat",
                "--uuid-file", "--hash-key-file", "--max-connections", "--log-level", "--log-format",
            ] {
                #expect(serveHelp.output.contains(flag), "serve --help mentions \(flag)")
            }
            #expect(!serveHelp.output.contains("probe-root"))
            let version = try runCommand(DaemonProcess.binary, ["--version"])
            #expect(version.status == 0)
            #expect(version.output.hasPrefix("genidd "))
        }

        @Test(
            "bad flags exit non-zero and name the flag",
            arguments: [
                (["--source", "bogus"], "--source"),
                (["--source", "file:"], "needs a path"),
                (["--source", "file"], "file:PATH"),
                (["--check-interval", "0"], "--check-interval"),
                (["--listen", "nonsense"], "--listen"),
                (["--listen", "127.0.0.1:99999"], "port"),
                (["--listen", "999.1.1.1:80"], "IPv4"),
                (["--heartbeat", "soon"], "--heartbeat"),
                (["--heartbeat", "0"], "--heartbeat"),
                (["--max-connections", "0"], "--max-connections"),
                (["--log-level", "loud"], "--log-level"),
                (["--log-format", "xml"], "--log-format"),
                (["--unix-mode", "999"], "--unix-mode"),
                (["--unix-group", "no-such-group-here"], "--unix-group"),
                (["--no-tcp", "--no-unix"], "nothing to listen on"),
                (["--cors-origin", "https://dash.example.com/page"], "--cors-origin"),
                (["--cors-origin", "null"], "--cors-origin"),
                (["--cors-origin", "ftp://dash.example.com"], "--cors-origin"),
                (["--read-token-query"], "--read-token-file"),
                (["--no-such-option"], "unknown option '--no-such-option'"),
                (["--no-tcp=1"], "--no-tcp takes no value"),
                (["--heartbeat"], "--heartbeat needs a value (DURATION)"),
                (["--heartbeat=soon"], "--heartbeat"),
            ])
        func badFlags(arguments: [String], mention: String) throws {
            let directory = try DaemonProcess.makeDirectory()
            let result = try runCommand(
                DaemonProcess.binary,
                ["serve", "--state-dir", directory.appendingPathComponent("state").path, "--source", "file:/dev/null"]
                    + arguments)
            #expect(result.status != 0)
            #expect(result.output.contains(mention), "\(result.output)")
        }

        @Test("environment variables set options; the command line wins")
        func environment() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "4")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
            process.arguments = ["serve", "--heartbeat", "100ms"]
            process.environment = [
                "GENIDD_SOURCE": counter.sourceArgument, "GENIDD_STATE_DIR": directory.appendingPathComponent("s").path,
                "GENIDD_NO_TCP": "1", "GENIDD_UNIX": directory.appendingPathComponent("env.sock").path,
                "GENIDD_HEARTBEAT": "bogus", "GENIDD_LOG_FORMAT": "json",
            ]
            let pipe = Pipe()
            process.standardError = pipe
            try process.run()
            defer {
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
            }
            let socketPath = directory.appendingPathComponent("env.sock").path
            let deadline = Date().addingTimeInterval(10)
            while !FileManager.default.fileExists(atPath: socketPath) && Date() < deadline {
                Thread.sleep(forTimeInterval: 0.02)
            }
            let reply = try request(.unix(path: socketPath), "/v1/generation")
            #expect(reply.json["generation"] as? Int == 4)
        }

        @Test("--unix-mode sets the socket's permissions")
        func unixMode() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--unix-mode", "0600"])
            let attributes = try FileManager.default.attributesOfItem(atPath: daemon.unixSocket)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }

        @Test("--log-format json writes one JSON object per line")
        func jsonLogs() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--log-format", "json"])
            let lines = daemon.lines.filter { !$0.isEmpty }
            #expect(!lines.isEmpty)
            for line in lines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["msg"] != nil && object?["level"] != nil && object?["time"] != nil, "\(line)")
            }
        }
    }
}
