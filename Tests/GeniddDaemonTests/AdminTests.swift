import Foundation
import Testing

extension DaemonTests {
    @Suite("Admin calls: bump, and who may make them")
    struct Admin {
        static func bump(
            _ endpoint: Endpoint, body: String? = nil, headers: [(String, String)] = []
        ) throws -> HTTPReply {
            var all = headers
            if body != nil { all.append(("Content-Type", "application/json")) }
            return try request(endpoint, "/v1/generation/bump", method: "POST", headers: all, body: body ?? "")
        }

        /// Writes a token file (mode 0600) and returns its path.
        static func tokenFile(_ directory: URL, _ name: String, _ token: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try Data((token + "\n").utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o600)
            return path
        }

        /// An HTTP request over the Unix socket from another user (curl run with setpriv).
        static func requestAs(
            uid: Int, gid: Int, socket: String, method: String, path: String
        ) throws -> (status: Int, body: String) {
            let result = try runCommand(
                "/usr/bin/setpriv",
                [
                    "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "/usr/bin/curl", "-s", "-o", "-", "-w",
                    "\n%{http_code}", "-X", method, "--unix-socket", socket, "http://genidd\(path)",
                ])
            let lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
            return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
        }

        @Test("bump moves a file: counter forward (to min when given) and answers with the new state")
        func bumpFile() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "5")
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", counter.sourceArgument, "--admin-uid", "0"])
            let bumped = try Self.bump(daemon.unix)
            #expect(bumped.status == 200, "\(bumped.text)")
            #expect(bumped.json["generation"] as? Int == 6)
            #expect(bumped.json["seq"] as? Int == 2)
            let written = try String(contentsOf: counter.url, encoding: .utf8)
            #expect(written.trimmingCharacters(in: .whitespacesAndNewlines) == "6")
            let toMin = try Self.bump(daemon.unix, body: "{\"min\": 100}")
            #expect(toMin.json["generation"] as? Int == 100)
            let below = try Self.bump(daemon.unix, body: "{\"min\": 3}")
            #expect(below.json["generation"] as? Int == 101, "min below current+1 still moves forward")
            for bad in [
                "{\"min\": -1}", "{\"min\": \"x\"}", "{\"other\": 1}", "[1]", "{",
                "{\"min\": 18446744073709551616}", "{\"min\": -9223372036854775809}",
            ] {
                #expect(try Self.bump(daemon.unix, body: bad).status == 400, "\(bad)")
            }
            let text = try request(
                daemon.unix, "/v1/generation/bump", method: "POST", headers: [("Content-Type", "text/plain")],
                body: "x")
            #expect(text.status == 415)
        }

        @Test("sources that cannot be bumped answer 409")
        func bumpUnsupported() throws {
            let directory = try DaemonProcess.makeDirectory()
            let path = directory.appendingPathComponent("vmgenid").path
            try DevicePageFixture(path: path).write32(1, at: 0)
            let daemon = try DaemonProcess(
                directory: directory, arguments: ["--source", "vmgenid:\(path)", "--admin-uid", "0"])
            let reply = try Self.bump(daemon.unix)
            #expect(reply.status == 409)
            #expect((reply.json["detail"] as? String)?.contains("cannot be bumped") == true)
        }

        @Test(
            "Unix peers: allowed by --admin-uid/--admin-gid, refused otherwise (a second user included); TCP peers need a token",
            .enabled(if: getuid() == 0, "switching to a second user needs root"))
        func peerCredentials() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            chmod(directory.path, 0o755)
            var daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", counter.sourceArgument, "--admin-uid", "0", "--unix-mode", "0666"])
            chmod(daemon.stateDirectory, 0o755)
            #expect(try Self.bump(daemon.unix).status == 200, "root is listed in --admin-uid")
            let nobody = try Self.requestAs(
                uid: 65534, gid: 65534, socket: daemon.unixSocket, method: "POST", path: "/v1/generation/bump")
            #expect(nobody.status == 401, "\(nobody)")
            #expect(nobody.body.contains("uid 65534"))
            let nobodyRead = try Self.requestAs(
                uid: 65534, gid: 65534, socket: daemon.unixSocket, method: "GET", path: "/v1/generation")
            #expect(nobodyRead.status == 200, "reads stay open")
            let tcp = try Self.bump(daemon.tcp)
            #expect(tcp.status == 401, "uid rules apply to the Unix socket only")
            #expect(tcp.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect(daemon.terminate()?.status == 0)

            daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", counter.sourceArgument, "--admin-gid", "65534", "--unix-mode", "0666"])
            chmod(daemon.stateDirectory, 0o755)
            let byGroup = try Self.requestAs(
                uid: 65534, gid: 65534, socket: daemon.unixSocket, method: "POST", path: "/v1/generation/bump")
            #expect(byGroup.status == 200, "\(byGroup)")
            #expect(try Self.bump(daemon.unix).status == 401, "root is not listed this time")
        }

        @Test("admin and read bearer tokens; proxy headers are refused for admin calls")
        func tokens() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let admin = try Self.tokenFile(directory, "admin.token", "admin-0123456789abcdef")
            let read = try Self.tokenFile(directory, "read.token", "read-0123456789abcdef")
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: [
                    "--source", counter.sourceArgument, "--admin-token-file", admin, "--read-token-file", read,
                    "--admin-uid", "0",
                ])
            let bearer = { (token: String) in [("Authorization", "Bearer \(token)")] }
            #expect(try Self.bump(daemon.tcp, headers: bearer("admin-0123456789abcdef")).status == 200)
            #expect(try Self.bump(daemon.tcp, headers: bearer("admin-0123456789abcdeX")).status == 401)
            #expect(try Self.bump(daemon.tcp, headers: bearer("admin")).status == 401)
            #expect(try Self.bump(daemon.tcp, headers: bearer("read-0123456789abcdef")).status == 403)
            let proxied = try Self.bump(
                daemon.tcp, headers: bearer("admin-0123456789abcdef") + [("X-Forwarded-For", "10.0.0.1")])
            #expect(proxied.status == 403)
            #expect((proxied.json["detail"] as? String)?.contains("Forwarded") == true)
            #expect(try Self.bump(daemon.unix, headers: [("Forwarded", "for=10.0.0.1")]).status == 403)

            let anonymous = try request(daemon.tcp, "/v1/generation")
            #expect(anonymous.status == 401)
            #expect(anonymous.header("WWW-Authenticate") != nil)
            #expect(try request(daemon.tcp, "/v1/generation", headers: bearer("read-0123456789abcdef")).status == 200)
            #expect(try request(daemon.tcp, "/v1/generation", headers: bearer("admin-0123456789abcdef")).status == 200)
            #expect(try request(daemon.tcp, "/v1/generation", headers: bearer("wrong-0123456789abcdef")).status == 401)
            #expect(try request(daemon.tcp, "/v1/events").status == 401)
            #expect(try request(daemon.unix, "/v1/generation").status == 200, "a listed Unix peer needs no token")
            #expect(try request(daemon.tcp, "/healthz").status == 200, "health checks stay open")
            #expect(try request(daemon.tcp, "/readyz").status == 200)
        }

        @Test("a token file that is too short is refused at start")
        func shortToken() throws {
            let directory = try DaemonProcess.makeDirectory()
            let token = try Self.tokenFile(directory, "t", "short")
            let result = try runCommand(
                DaemonProcess.binary,
                [
                    "serve", "--source", "file:/dev/null", "--state-dir", directory.appendingPathComponent("s").path,
                    "--admin-token-file", token,
                ])
            #expect(result.status != 0)
            #expect(result.output.contains("--admin-token-file"))
            #expect(result.output.contains("shorter than 16 bytes"))
        }
    }
}
