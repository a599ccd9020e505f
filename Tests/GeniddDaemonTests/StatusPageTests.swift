import Foundation
import Testing

extension DaemonTests {
    @Suite("The status page (GET /) and GET /v1/status")
    struct StatusPage {
        /// `sha256-` + base64 of the SHA-256 of `text`, as a CSP source (sha256sum does the hashing).
        static func cspHash(_ text: String) throws -> String {
            let file = try DaemonProcess.makeDirectory().appendingPathComponent("inline")
            try Data(text.utf8).write(to: file)
            let result = try runCommand("/usr/bin/sha256sum", [file.path])
            let hex = Array(result.output.prefix(64))
            var digest = Data()
            for index in stride(from: 0, to: hex.count, by: 2) {
                guard let byte = UInt8(String(hex[index...index + 1]), radix: 16) else {
                    throw DaemonTestError("sha256sum printed \(result.output)")
                }
                digest.append(byte)
            }
            return "sha256-" + digest.base64EncodedString()
        }

        /// The text between `<tag>` and `</tag>`.
        static func inline(_ tag: String, in html: String) throws -> String {
            guard let open = html.range(of: "<\(tag)>"),
                let close = html.range(of: "</\(tag)>", range: open.upperBound..<html.endIndex)
            else { throw DaemonTestError("no <\(tag)> in the page") }
            return String(html[open.upperBound..<close.lowerBound])
        }

        @Test("GET / is one self-contained HTML document under a strict CSP that allows exactly its inline code")
        func page() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let reply = try request(daemon.tcp, "/")
            #expect(reply.status == 200)
            #expect(reply.header("Content-Type") == "text/html; charset=utf-8")
            #expect(reply.header("Cache-Control") == "no-store")
            #expect(reply.header("X-Content-Type-Options") == "nosniff")
            #expect(reply.header("Referrer-Policy") == "no-referrer")
            let policy = try #require(reply.header("Content-Security-Policy"))
            let directives = policy.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(directives.contains("default-src 'none'"))
            #expect(directives.contains("connect-src 'self'"))
            #expect(directives.contains("frame-ancestors 'none'"))
            #expect(!policy.contains("unsafe"), "no 'unsafe-inline' or 'unsafe-eval'")
            let html = reply.text
            let script = try Self.inline("script", in: html)
            let style = try Self.inline("style", in: html)
            let scriptHash = try Self.cspHash(script)
            let styleHash = try Self.cspHash(style)
            #expect(directives.contains("script-src '\(scriptHash)'"), "StatusPage.scriptHash must be \(scriptHash)")
            #expect(directives.contains("style-src '\(styleHash)'"), "StatusPage.styleHash must be \(styleHash)")
            #expect(!html.contains("src=") && !html.contains("href="), "no external asset")
            #expect(script.contains("new EventSource"))
            #expect(script.contains("addEventListener(\"generation\""))

            let head = try request(daemon.tcp, "/", method: "HEAD")
            #expect(head.status == 200)
            #expect(head.header("Content-Security-Policy") == policy)
        }

        @Test("GET /v1/status: the state, the last changes newest first, subscribers and watchers")
        func status() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "10")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let watch = try ChangeWatch(daemon)
            _ = try request(daemon.tcp, "/v1/watchers/app", method: "PUT")
            for value in 11...12 {
                _ = try watch.expectChange { try counter.write("\(value)") }
            }
            let reply = try request(daemon.tcp, "/v1/status")
            #expect(reply.status == 200)
            #expect(reply.header("Cache-Control") == "no-store")
            let status = reply.json
            let state = try #require(status["generation"] as? [String: Any])
            #expect(state["generation"] as? Int == 12)
            #expect(state["seq"] as? Int == 3)
            #expect(status["stale_reason"] is NSNull)
            let changes = try #require(status["recent_changes"] as? [[String: Any]])
            #expect(changes.compactMap { $0["seq"] as? Int } == [3, 2, 1])
            #expect(changes.compactMap { $0["generation"] as? Int } == [12, 11, 10])
            #expect(changes.allSatisfy { ($0["changed_at"] as? String)?.hasSuffix("Z") == true })
            let subscribers = try #require(status["subscribers"] as? [String: Any])
            #expect(subscribers["sse"] as? Int == 1)
            #expect(subscribers["longpoll"] as? Int == 0)
            let watchers = try #require(status["watchers"] as? [String: Any])
            #expect(watchers["registered"] as? Int == 1)
            #expect(watchers["outdated"] as? Int == 1)
            #expect((status["connections"] as? Int ?? 0) >= 2)
        }
    }
}
