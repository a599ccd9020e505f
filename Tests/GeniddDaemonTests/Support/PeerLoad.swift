import Foundation

/// Many connections held open by another process, possibly as another user
/// (`setpriv`) or from another loopback address: a neighbour that spends its
/// whole connection budget. Each connection sends one request; the process
/// reports how they were answered, then holds them until `stop()`.
final class PeerLoad {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    /// Status codes of the first answers by count ("200", "503", "closed", "none").
    let answers: [String: Int]

    /// The load generator: stdin closing ends it (and with it every connection).
    private static let script = #"""
        import json, select, socket, sys
        kind, address, source, count, request = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
        held, answers = [], {}
        for _ in range(count):
            if kind == "unix":
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                target = address
            else:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((source, 0))
                host, port = address.rsplit(":", 1)
                target = (host, int(port))
            try:
                s.connect(target)
            except OSError:
                answers["refused"] = answers.get("refused", 0) + 1
                continue
            if request:
                s.sendall(request.encode())
            held.append(s)
        for s in held:
            if not request:
                continue
            ready, _, _ = select.select([s], [], [], 3)
            if not ready:
                key = "none"
            else:
                try:
                    data = s.recv(64)
                except OSError:
                    data = b""
                key = data.split(b" ")[1].decode() if data.startswith(b"HTTP/") else "closed"
            answers[key] = answers.get(key, 0) + 1
        print(json.dumps(answers), flush=True)
        sys.stdin.read()
        """#

    /// Opens `count` connections to `endpoint` as `uid` (nil: this process's
    /// user), TCP ones from `sourceAddress`, each sending `request` (nil:
    /// connect only), and waits for their answers.
    init(
        _ endpoint: Endpoint, count: Int, request: String?, uid: Int? = nil, sourceAddress: String = "127.0.0.1"
    ) throws {
        var arguments = ["-c", Self.script]
        switch endpoint {
        case .unix(let path): arguments += ["unix", path, "-"]
        case .tcp(let port): arguments += ["tcp", "127.0.0.1:\(port)", sourceAddress]
        }
        arguments += [String(count), request ?? ""]
        if let uid {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments =
                ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/usr/bin/python3"] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = arguments
        }
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let line = output.fileHandleForReading.readLine()
        guard let data = line?.data(using: .utf8),
            let decoded = try JSONSerialization.jsonObject(with: data) as? [String: Int]
        else {
            throw DaemonTestError("the load generator reported nothing: \(line ?? "EOF")")
        }
        answers = decoded
    }

    /// Closes every connection (the process exits).
    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning {
            stop()
        }
    }
}

extension FileHandle {
    /// One line of text, read byte by byte (nil at end of file).
    fileprivate func readLine() -> String? {
        var bytes: [UInt8] = []
        while true {
            let chunk = readData(ofLength: 1)
            guard let byte = chunk.first else { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
    }
}

/// Open descriptors of a process (its `/proc/PID/fd`).
func openDescriptors(of process: Process) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/fd").count) ?? -1
}

/// Waits until `condition` holds (checked every 20 ms); returns the seconds it took, or nil.
func secondsUntil(_ timeout: Double, _ condition: () -> Bool) -> Double? {
    let start = Date()
    while Date().timeIntervalSince(start) < timeout {
        if condition() {
            return Date().timeIntervalSince(start)
        }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return condition() ? Date().timeIntervalSince(start) : nil
}

/// How long `GET path` took to answer, in seconds, and its status.
func timedRequest(_ endpoint: Endpoint, _ path: String) throws -> (status: Int, seconds: Double) {
    let start = Date()
    let reply = try request(endpoint, path, timeout: 3)
    return (reply.status, Date().timeIntervalSince(start))
}
