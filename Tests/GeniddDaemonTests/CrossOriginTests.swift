import Foundation
import Testing

extension DaemonTests {
    @Suite("Browsers on other origins: CORS, preflights, access_token")
    struct CrossOrigin {
        static let page = "http://localhost:9999"

        /// A daemon that lets `origins` read it (`--cors-origin`), with `extra` arguments.
        static func start(origins: [String], _ extra: [String] = []) throws -> (DaemonProcess, CounterFile) {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let daemon = try DaemonProcess(
                directory: directory,
                arguments: ["--source", counter.sourceArgument] + origins.flatMap { ["--cors-origin", $0] } + extra)
            return (daemon, counter)
        }

        static func preflight(
            _ daemon: DaemonProcess, _ path: String, origin: String = page, method: String = "GET",
            headers: String? = nil
        ) throws -> HTTPReply {
            var all = [("Origin", origin), ("Access-Control-Request-Method", method)]
            if let headers { all.append(("Access-Control-Request-Headers", headers)) }
            return try request(daemon.tcp, path, method: "OPTIONS", headers: all)
        }

        @Test("reads from an allowed origin carry Access-Control-Allow-Origin, Vary and the exposed ETag")
        func allowedOrigin() throws {
            let (daemon, _) = try Self.start(origins: [Self.page, "https://Dash.Example.com:443"])
            let reply = try request(daemon.tcp, "/v1/generation", headers: [("Origin", Self.page)])
            #expect(reply.status == 200)
            #expect(reply.header("Access-Control-Allow-Origin") == Self.page)
            #expect(reply.header("Vary") == "Origin")
            #expect(reply.header("Access-Control-Expose-Headers") == "ETag")
            #expect(reply.header("Access-Control-Allow-Credentials") == nil, "tokens are explicit, never cookies")
            let etag = try #require(reply.header("ETag"))
            let cached = try request(
                daemon.tcp, "/v1/generation", headers: [("Origin", Self.page), ("If-None-Match", etag)])
            #expect(cached.status == 304)
            #expect(cached.header("Access-Control-Allow-Origin") == Self.page)
            let normalized = try request(
                daemon.tcp, "/v1/generation", headers: [("Origin", "https://dash.example.com")])
            #expect(normalized.header("Access-Control-Allow-Origin") == "https://dash.example.com")
            let missing = try request(daemon.tcp, "/v1/watchers/nobody", headers: [("Origin", Self.page)])
            #expect(missing.status == 404)
            #expect(missing.header("Access-Control-Allow-Origin") == Self.page, "a page can read the problem")
            let stream = try EventStreamClient(daemon.tcp, headers: [("Origin", Self.page)])
            #expect(stream.headers.first { $0.0 == "Access-Control-Allow-Origin" }?.1 == Self.page)
            #expect(stream.nextEvent(timeout: 5)?.event == "generation")

            let other = try request(daemon.tcp, "/v1/generation", headers: [("Origin", "http://localhost:9998")])
            #expect(other.status == 200)
            #expect(other.header("Access-Control-Allow-Origin") == nil)
            #expect(other.header("Vary") == "Origin")
            let plain = try request(daemon.tcp, "/v1/generation")
            #expect(plain.header("Access-Control-Allow-Origin") == nil)
            #expect(plain.header("Vary") == nil)
        }

        @Test("preflights: GET and HEAD with If-None-Match, Last-Event-ID and Authorization; nothing else")
        func preflights() throws {
            let (daemon, _) = try Self.start(origins: [Self.page])
            let conditional = try Self.preflight(daemon, "/v1/generation", headers: "if-none-match")
            #expect(conditional.status == 204)
            #expect(conditional.header("Access-Control-Allow-Origin") == Self.page)
            #expect(conditional.header("Access-Control-Allow-Methods") == "GET, HEAD")
            let allowedHeaders = try #require(conditional.header("Access-Control-Allow-Headers"))
            for name in ["If-None-Match", "Last-Event-ID", "Authorization"] {
                #expect(allowedHeaders.contains(name))
            }
            #expect(Int(conditional.header("Access-Control-Max-Age") ?? "") ?? 0 > 0)
            #expect(conditional.header("Vary")?.hasPrefix("Origin") == true)
            #expect(conditional.header("Allow") == "GET, HEAD, OPTIONS")
            let resume = try Self.preflight(daemon, "/v1/events", headers: "last-event-id, authorization")
            #expect(resume.status == 204)
            #expect(resume.header("Access-Control-Allow-Origin") == Self.page)
            #expect(try Self.preflight(daemon, "/v1/watchers/app", method: "HEAD").status == 204)

            for refused in [
                try Self.preflight(daemon, "/v1/watchers/app", method: "PUT"),
                try Self.preflight(daemon, "/v1/events", headers: "last-event-id, x-custom"),
                try Self.preflight(daemon, "/v1/generation", origin: "http://localhost:9998"),
            ] {
                #expect(refused.status == 403)
                #expect(refused.header("Access-Control-Allow-Origin") == nil, "the browser refuses the request")
                #expect(refused.header("Content-Type") == "application/problem+json")
            }
            let plain = try request(daemon.tcp, "/v1/generation", method: "OPTIONS")
            #expect(plain.status == 204)
            #expect(plain.header("Allow") == "GET, HEAD, OPTIONS")
            let admin = try Self.preflight(daemon, "/v1/generation/bump", method: "POST")
            #expect(admin.status == 405, "admin routes answer no preflight")
            #expect(admin.header("Allow") == "POST")
            #expect(admin.header("Access-Control-Allow-Origin") == nil)
        }

        @Test("without --cors-origin no page on another origin is allowed, and no CORS header is sent")
        func noOriginByDefault() throws {
            let (daemon, _) = try Self.start(origins: [])
            let reply = try request(daemon.tcp, "/v1/generation", headers: [("Origin", Self.page)])
            #expect(reply.status == 200)
            #expect(reply.header("Access-Control-Allow-Origin") == nil)
            #expect(reply.header("Vary") == nil)
            let preflight = try Self.preflight(daemon, "/v1/generation", headers: "if-none-match")
            #expect(preflight.status == 403)
            #expect(preflight.header("Access-Control-Allow-Origin") == nil)
            #expect((preflight.json["detail"] as? String)?.contains("--cors-origin") == true)
        }

        @Test("'*' allows every origin, without credentials")
        func anyOrigin() throws {
            let (daemon, _) = try Self.start(origins: ["*"])
            let reply = try request(daemon.tcp, "/v1/generation", headers: [("Origin", "https://anywhere.example")])
            #expect(reply.header("Access-Control-Allow-Origin") == "*")
            #expect(reply.header("Access-Control-Allow-Credentials") == nil)
            #expect(try Self.preflight(daemon, "/v1/events", origin: "http://127.0.0.1:1").status == 204)
        }

        @Test("pages never write: POST, PUT and DELETE carrying Origin are refused, even from an allowed origin")
        func writesFromPagesRefused() throws {
            let directory = try DaemonProcess.makeDirectory()
            let admin = try DaemonTests.Admin.tokenFile(directory, "admin.token", "admin-0123456789abcdef")
            let (daemon, _) = try Self.start(origins: [Self.page], ["--admin-token-file", admin])
            let bearer = ("Authorization", "Bearer admin-0123456789abcdef")
            let fromPage = try DaemonTests.Admin.bump(daemon.tcp, headers: [bearer, ("Origin", Self.page)])
            #expect(fromPage.status == 403)
            #expect(fromPage.header("Access-Control-Allow-Origin") == nil)
            #expect(try DaemonTests.Admin.bump(daemon.tcp, headers: [bearer]).status == 200)
            let put = try request(daemon.tcp, "/v1/watchers/app", method: "PUT", headers: [("Origin", Self.page)])
            #expect(put.status == 403)
            let delete = try request(
                daemon.tcp, "/v1/watchers/app", method: "DELETE", headers: [("Origin", Self.page)])
            #expect(delete.status == 403)
        }

        @Test("access_token: the read token on GET and HEAD with --read-token-query; never the admin token")
        func accessToken() throws {
            let directory = try DaemonProcess.makeDirectory()
            let readToken = "read-0123456789abcdef"
            let adminToken = "admin-0123456789abcdef"
            let read = try DaemonTests.Admin.tokenFile(directory, "read.token", readToken)
            let admin = try DaemonTests.Admin.tokenFile(directory, "admin.token", adminToken)
            let (daemon, _) = try Self.start(
                origins: [], ["--read-token-file", read, "--admin-token-file", admin, "--read-token-query"])
            #expect(try request(daemon.tcp, "/v1/generation?access_token=\(readToken)").status == 200)
            #expect(try request(daemon.tcp, "/v1/generation?access_token=\(readToken)", method: "HEAD").status == 200)
            #expect(try request(daemon.tcp, "/v1/status?access_token=\(readToken)").status == 200)
            let stream = try EventStreamClient(daemon.tcp, path: "/v1/events?access_token=\(readToken)")
            #expect(stream.status == 200)
            #expect(stream.nextEvent(timeout: 5)?.event == "generation")
            #expect(try request(daemon.tcp, "/v1/generation?access_token=wrong-0123456789abcdef").status == 401)
            let leaked = try request(daemon.tcp, "/v1/generation?access_token=\(adminToken)")
            #expect(leaked.status == 401)
            #expect((leaked.json["detail"] as? String)?.contains("never accepted") == true)
            let leakedBesideBearer = try request(
                daemon.tcp, "/v1/generation?access_token=\(adminToken)",
                headers: [("Authorization", "Bearer \(readToken)")])
            #expect(leakedBesideBearer.status == 401, "an admin token in a query is refused even beside a valid header")
            let bump = try request(
                daemon.tcp, "/v1/generation/bump?access_token=\(adminToken)", method: "POST", body: "")
            #expect(bump.status == 400, "no token in the query of a write")
            let put = try request(daemon.tcp, "/v1/watchers/app?access_token=\(readToken)", method: "PUT")
            #expect(put.status == 400)
            #expect(try request(daemon.tcp, "/", method: "GET").status == 200, "the page itself is open")
            #expect(try request(daemon.tcp, "/v1/status").status == 401)
            #expect(!daemon.log.contains(readToken) && !daemon.log.contains(adminToken), "tokens are never logged")
        }

        @Test("access_token is not a credential without --read-token-query, and the 401 says so")
        func accessTokenDisabled() throws {
            let directory = try DaemonProcess.makeDirectory()
            let read = try DaemonTests.Admin.tokenFile(directory, "read.token", "read-0123456789abcdef")
            let (daemon, _) = try Self.start(origins: [], ["--read-token-file", read])
            let reply = try request(daemon.tcp, "/v1/generation?access_token=read-0123456789abcdef")
            #expect(reply.status == 401)
            #expect((reply.json["detail"] as? String)?.contains("--read-token-query") == true)
            let bearer = [("Authorization", "Bearer read-0123456789abcdef")]
            #expect(try request(daemon.tcp, "/v1/generation", headers: bearer).status == 200)
        }
    }
}
