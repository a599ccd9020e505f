import Foundation

/// A real Prometheus (Debian's `prometheus`) started for one test: it scrapes
/// `targets` every second, evaluates `rules` every second, keeps its TSDB in
/// the test's directory, and listens on a free loopback port. Stopped (SIGTERM,
/// then SIGKILL) when the test ends, on every path.
final class PrometheusServer {
    static let binary = "/usr/bin/prometheus"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    let port: UInt16
    let logPath: String
    private let process: Process

    /// Starts Prometheus and waits until it answers `/-/ready`. A port taken
    /// between picking it and Prometheus binding it is retried with another.
    init(directory: URL, rules: String, targets: [UInt16]) throws {
        let configPath = directory.appendingPathComponent("prometheus.yml").path
        let rulesPath = directory.appendingPathComponent("rules.yaml").path
        try Data(rules.utf8).write(to: URL(fileURLWithPath: rulesPath))
        let targetList = targets.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", ")
        let config = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            rule_files:
              - \(rulesPath)
            scrape_configs:
              - job_name: genidd
                static_configs:
                  - targets: [\(targetList)]
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: configPath))
        logPath = directory.appendingPathComponent("prometheus.log").path
        var attempt = 0
        while true {
            attempt += 1
            let port = try Self.freePort()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.binary)
            process.arguments = [
                "--config.file=\(configPath)",
                "--storage.tsdb.path=\(directory.appendingPathComponent("tsdb").path)",
                "--web.listen-address=127.0.0.1:\(port)",
                "--log.level=info",
            ]
            _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
            process.standardOutput = log
            process.standardError = log
            try process.run()
            if try Self.waitUntilReady(process, port: port, timeout: 30) {
                self.port = port
                self.process = process
                return
            }
            Self.stop(process)
            let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            guard attempt < 3, output.contains("address already in use") else {
                throw DaemonTestError("prometheus did not become ready on 127.0.0.1:\(port):\n\(output)")
            }
        }
    }

    deinit {
        Self.stop(process)
    }

    /// The alerts Prometheus holds (pending and firing), as `/api/v1/alerts` lists them.
    func alerts() throws -> [[String: Any]] {
        let data = try api("/api/v1/alerts")["alerts"] as? [[String: Any]]
        return data ?? []
    }

    /// An instant query's result vector, as label sets with the sample value.
    func query(_ expression: String) throws -> [(labels: [String: String], value: String)] {
        let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let result = try api("/api/v1/query?query=\(encoded)")["result"] as? [[String: Any]] ?? []
        return result.map { sample in
            let labels = sample["metric"] as? [String: String] ?? [:]
            let value = (sample["value"] as? [Any])?.last as? String ?? "?"
            return (labels, value)
        }
    }

    /// The scrape targets and their health, for failure messages.
    func targetHealth() -> String {
        guard let data = try? api("/api/v1/targets"), let active = data["activeTargets"] as? [[String: Any]] else {
            return "(targets unknown)"
        }
        return active.map { "\($0["scrapeUrl"] ?? "?"): \($0["health"] ?? "?") \($0["lastError"] ?? "")" }
            .joined(separator: "; ")
    }

    /// The log so far, for failure messages.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// GET `path` and the `data` member of its `{"status":"success","data":…}` answer.
    private func api(_ path: String) throws -> [String: Any] {
        let reply = try Self.get(port: port, path)
        guard reply.status == 200,
            let document = try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any],
            document["status"] as? String == "success", let data = document["data"] as? [String: Any]
        else {
            throw DaemonTestError("prometheus \(path): \(reply.status) \(reply.text)")
        }
        return data
    }

    /// One HTTP/1.0 request: Prometheus answers without chunking and closes.
    private static func get(port: UInt16, _ path: String, timeout: Double = 5) throws -> HTTPReply {
        let socket = try TestSocket(.tcp(port: port))
        try socket.send("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n\r\n")
        guard socket.waitForClose(timeout: timeout) else {
            throw DaemonTestError("prometheus \(path): no complete answer within \(timeout) s")
        }
        let (status, headers) = try socket.readHead(timeout: 0.1)
        return HTTPReply(status: status, headers: headers, body: socket.buffer)
    }

    private static func waitUntilReady(_ process: Process, port: UInt16, timeout: Double) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && process.isRunning {
            if let reply = try? get(port: port, "/-/ready", timeout: 1), reply.status == 200 {
                return true
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    private static func stop(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
    }

    /// A loopback port nobody listens on right now (bound to port 0, then released).
    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw DaemonTestError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else { throw DaemonTestError("bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
        return UInt16(bigEndian: address.sin_port)
    }
}
