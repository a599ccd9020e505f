import Foundation
import Testing

extension DaemonTests {
    @Suite("Signals: SIGHUP reloads, others are logged; none kills genidd silently")
    struct Signals {
        @Test("SIGUSR1 logs the status; SIGUSR2 and SIGALRM are logged and ignored; the daemon keeps serving")
        func loggedSignals() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "3")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            for (number, line) in [
                (SIGUSR2, "ignoring a signal signal=SIGUSR2"), (SIGALRM, "ignoring a signal signal=SIGALRM"),
                (SIGUSR1, "SIGUSR1: status"),
            ] {
                #expect(kill(daemon.process.processIdentifier, number) == 0)
                let logged = try daemon.waitForLine(containing: line, timeout: 5)
                #expect(logged != nil, "no '\(line)' in\n\(daemon.log)")
                #expect(daemon.process.isRunning)
                #expect(try request(daemon.tcp, "/healthz").status == 200)
            }
            let status = try #require(try daemon.waitForLine(containing: "SIGUSR1: status", timeout: 1))
            #expect(status.contains("seq=1") && status.contains("generation=3") && status.contains("sse_subscribers=0"))
            #expect(daemon.terminate()?.status == 0)
        }

        @Test(
            "SIGHUP reopens the source (no change reported) and re-reads token files; a bad token file keeps the old one"
        )
        func reload() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "3")
            let token = try Admin.tokenFile(directory, "read.token", "first-token-0123456789")
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--read-token-file", token])
            func status(_ bearer: String) throws -> Int {
                try request(daemon.tcp, "/v1/generation", headers: [("Authorization", "Bearer \(bearer)")]).status
            }
            #expect(try status("first-token-0123456789") == 200)

            _ = try Admin.tokenFile(directory, "read.token", "second-token-0123456789")
            let before = daemon.lines.count
            #expect(kill(daemon.process.processIdentifier, SIGHUP) == 0)
            #expect(
                try daemon.waitForLine(containing: "reload: reopening the source", after: before, timeout: 5) != nil)
            #expect(try status("second-token-0123456789") == 200)
            #expect(try status("first-token-0123456789") == 401)
            let state = try request(
                daemon.tcp, "/v1/generation", headers: [("Authorization", "Bearer second-token-0123456789")])
            #expect(state.json["seq"] as? Int == 1, "reopening the same source is not a change")
            #expect(state.json["stale"] as? Bool == false)

            _ = try Admin.tokenFile(directory, "read.token", "short")
            let again = daemon.lines.count
            #expect(kill(daemon.process.processIdentifier, SIGHUP) == 0)
            #expect(try daemon.waitForLine(containing: "keeping the previous tokens", after: again, timeout: 5) != nil)
            #expect(try status("second-token-0123456789") == 200)
            #expect(daemon.terminate()?.status == 0)
        }

        @Test("SIGHUP lets --source auto switch to a better source that appeared since the start")
        func reprobe() throws {
            let directory = try DaemonProcess.makeDirectory()
            let root = try SourceSelection.probeRootWithVmgenid(in: directory)
            let vmgenid = try DevicePageFixture(path: root + "/dev/vmgenid")
            vmgenid.write32(33, at: 0)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "auto", "--probe-root", root, "--check-interval", "20ms"])
            let first = try request(daemon.tcp, "/v1/generation").json
            #expect((first["source"] as? String)?.hasPrefix("vmgenid") == true)
            try DevicePageFixture(path: root + "/dev/sysgenid", size: 4).write32(55, at: 0)
            #expect(kill(daemon.process.processIdentifier, SIGHUP) == 0)
            try waitForSeq(daemon, 2)
            let switched = try request(daemon.tcp, "/v1/generation").json
            #expect((switched["source"] as? String)?.hasPrefix("sysgenid") == true)
            #expect(switched["generation"] as? Int == 55)
            #expect(daemon.log.contains("reload: switching sources"))
            let metrics = try request(daemon.tcp, "/metrics").text
            #expect(metrics.contains("genidd_source_info{source=\"\(switched["source"] as? String ?? "")\""))
        }

        @Test("SIGQUIT and SIGINT stop genidd cleanly, like SIGTERM, and remove the socket")
        func quit() throws {
            for number in [SIGQUIT, SIGINT] {
                let directory = try DaemonProcess.makeDirectory()
                let counter = try CounterFile(in: directory)
                let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
                #expect(kill(daemon.process.processIdentifier, number) == 0)
                let exit = try #require(daemon.waitForExit(timeout: 5))
                #expect(exit.status == 0, "signal \(number)")
                #expect(!FileManager.default.fileExists(atPath: daemon.unixSocket))
            }
        }
    }
}
