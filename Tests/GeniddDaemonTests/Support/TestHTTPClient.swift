import Foundation

/// Where a test talks to the daemon.
enum Endpoint: Sendable {
    case tcp(port: UInt16)
    case unix(path: String)
}

/// A parsed HTTP response as a client sees it.
struct HTTPReply: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed with Foundation's JSONSerialization (independent of genidd's json-c).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }
}

/// A blocking client socket with timeouts: enough HTTP/1.1 to test genidd
/// byte for byte, over TCP or a Unix socket.
final class TestSocket {
    let fd: Int32
    var buffer: [UInt8] = []

    init(_ endpoint: Endpoint) throws {
        switch endpoint {
        case .tcp(let port):
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if result != 0 {
                close(fd)
                throw DaemonTestError("connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
            }
        case .unix(let path):
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
            }
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if result != 0 {
                close(fd)
                throw DaemonTestError("connect to \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    deinit {
        close(fd)
    }

    func send(_ text: String) throws {
        var bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeMutableBytes {
                Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count <= 0 { throw DaemonTestError("send failed: \(String(cString: strerror(errno)))") }
            sent += count
        }
    }

    /// Sends a request with `headers`, adding Host.
    func sendRequest(_ method: String, _ path: String, headers: [(String, String)] = [], body: String? = nil) throws {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if let body { request += "Content-Length: \(body.utf8.count)\r\n" }
        request += "\r\n" + (body ?? "")
        try send(request)
    }

    /// Set once the peer closed the connection.
    private(set) var closed = false

    /// Reads more bytes into `buffer`; false on EOF (then `closed` is set) or timeout.
    @discardableResult
    func fill(timeout: Double) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, Int32((timeout * 1000).rounded(.up))) > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else {
            closed = true
            return false
        }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    /// True when the peer closed the connection within `timeout` (no more bytes).
    func waitForClose(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 50) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return true }
            buffer.append(contentsOf: chunk[0..<count])
        }
        return false
    }

    /// Reads one response head (status line and headers) and consumes it.
    func readHead(timeout: Double) throws -> (status: Int, headers: [(String, String)]) {
        let deadline = Date().addingTimeInterval(timeout)
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        while true {
            if let range = buffer.firstRange(of: separator) {
                let head = String(decoding: buffer[..<range.lowerBound], as: UTF8.self)
                buffer.removeSubrange(..<range.upperBound)
                var lines = head.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
                    throw DaemonTestError("bad status line: \(head)")
                }
                let headers = lines.compactMap { line -> (String, String)? in
                    guard let colon = line.firstIndex(of: ":") else { return nil }
                    return (
                        String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    )
                }
                return (status, headers)
            }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0, fill(timeout: remaining) else {
                throw DaemonTestError("no response head within \(timeout) s (got \(buffer.count) bytes)")
            }
        }
    }

    /// Reads a complete response (Content-Length or chunked).
    func readResponse(timeout: Double, method: String = "GET") throws -> HTTPReply {
        let deadline = Date().addingTimeInterval(timeout)
        let (status, headers) = try readHead(timeout: timeout)
        let reply = HTTPReply(status: status, headers: headers, body: [])
        if method == "HEAD" || status == 304 || status == 204 {
            return reply
        }
        if let length = reply.header("Content-Length").flatMap(Int.init) {
            while buffer.count < length {
                guard fill(timeout: max(0.001, deadline.timeIntervalSinceNow)) else {
                    throw DaemonTestError("body shorter than Content-Length \(length)")
                }
            }
            let body = Array(buffer[..<length])
            buffer.removeSubrange(..<length)
            return HTTPReply(status: status, headers: headers, body: body)
        }
        throw DaemonTestError("response without Content-Length (status \(status))")
    }
}

/// One request on a fresh connection.
func request(
    _ endpoint: Endpoint, _ path: String, method: String = "GET", headers: [(String, String)] = [],
    body: String? = nil, timeout: Double = 5
) throws -> HTTPReply {
    let socket = try TestSocket(endpoint)
    try socket.sendRequest(method, path, headers: headers, body: body)
    return try socket.readResponse(timeout: timeout, method: method)
}

/// One Server-Sent Event as a client parses it.
struct ServerSentEvent: Equatable {
    var event: String?
    var id: String?
    var data: String
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:]
    }
    static func == (lhs: ServerSentEvent, rhs: ServerSentEvent) -> Bool {
        lhs.event == rhs.event && lhs.id == rhs.id && lhs.data == rhs.data
    }
}

/// A Server-Sent Events subscriber that decodes HTTP chunked framing and the
/// SSE line format as the standard says (a blank line ends a block; comment
/// and `retry:` lines take effect as soon as they are complete), keeping
/// comments, `retry:` values and the raw text for assertions on the framing.
final class EventStreamClient {
    let socket: TestSocket
    let status: Int
    let headers: [(String, String)]
    private var payload: [UInt8] = []
    private(set) var comments: [String] = []
    private(set) var retry: Int?
    private(set) var ended = false
    /// Every byte of the event stream so far.
    private(set) var text = ""
    /// Blocks (ended by a blank line) that held lines but no `data:`: clients
    /// such as httpx-sse dispatch each as an empty message.
    private(set) var blocksWithoutData = 0
    /// The lines of each block that carried data, as sent (fields and comments).
    private(set) var blocks: [[String]] = []
    private var pendingLines: [String] = []
    private var pending = ServerSentEvent(event: nil, id: nil, data: "")
    private var pendingHasData = false
    private var ready: [ServerSentEvent] = []

    init(_ endpoint: Endpoint, path: String = "/v1/events", headers: [(String, String)] = [], timeout: Double = 5)
        throws
    {
        socket = try TestSocket(endpoint)
        try socket.sendRequest("GET", path, headers: headers)
        (status, self.headers) = try socket.readHead(timeout: timeout)
    }

    /// The next event, or nil when none arrives within `timeout` or the stream ended.
    func nextEvent(timeout: Double) -> ServerSentEvent? {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let event = takeEvent() {
                return event
            }
            if ended { return nil }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return nil }
            if !socket.fill(timeout: remaining) && socket.closed {
                ended = true
            }
            _ = decodeChunks()
        }
    }

    /// Reads until at least `count` comments were seen or `timeout` passes.
    func waitForComments(_ count: Int, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while comments.count < count {
            parseLines()
            if comments.count >= count { return true }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0, socket.fill(timeout: remaining) else { return comments.count >= count }
            _ = decodeChunks()
        }
        return true
    }

    /// Reads until the server ends the stream (terminating chunk or close).
    func waitForEnd(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !ended {
            _ = decodeChunks()
            if ended { break }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return false }
            if !socket.fill(timeout: remaining) && socket.closed {
                ended = true
            }
        }
        return true
    }

    /// Moves complete chunks from the socket buffer into `payload`. Returns
    /// whether anything was decoded.
    @discardableResult
    private func decodeChunks() -> Bool {
        var progressed = false
        while let lineEnd = socket.buffer.firstRange(of: Array("\r\n".utf8)) {
            let sizeText = String(decoding: socket.buffer[..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else { break }
            let needed = lineEnd.upperBound + size + 2
            guard socket.buffer.count >= needed else { break }
            if size == 0 {
                ended = true
                socket.buffer.removeAll()
                return true
            }
            payload.append(contentsOf: socket.buffer[lineEnd.upperBound..<(lineEnd.upperBound + size)])
            socket.buffer.removeSubrange(..<needed)
            progressed = true
        }
        return progressed
    }

    /// Returns the oldest event dispatched and not yet taken.
    private func takeEvent() -> ServerSentEvent? {
        parseLines()
        return ready.isEmpty ? nil : ready.removeFirst()
    }

    /// Handles the complete lines that arrived (events wait in `ready`).
    private func parseLines() {
        _ = decodeChunks()
        while let lineEnd = payload.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: payload[..<lineEnd], as: UTF8.self)
            payload.removeSubrange(...lineEnd)
            text += line + "\n"
            handle(line)
        }
    }

    /// Reads what arrives within `seconds` without taking events (for
    /// assertions on comments and framing).
    func drain(for seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while !ended {
            parseLines()
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return }
            if !socket.fill(timeout: remaining) && socket.closed {
                ended = true
            }
        }
    }

    private func handle(_ line: String) {
        guard !line.isEmpty else {
            if pendingHasData {
                ready.append(pending)
                blocks.append(pendingLines)
            } else if !pendingLines.isEmpty {
                blocksWithoutData += 1
            }
            pending = ServerSentEvent(event: nil, id: nil, data: "")
            pendingHasData = false
            pendingLines = []
            return
        }
        pendingLines.append(line)
        if line.hasPrefix(":") {
            comments.append(String(line.dropFirst()).trimmingCharacters(in: .whitespaces))
        } else if line.hasPrefix("retry: ") {
            retry = Int(line.dropFirst(7))
        } else if line.hasPrefix("event: ") {
            pending.event = String(line.dropFirst(7))
        } else if line.hasPrefix("id: ") {
            pending.id = String(line.dropFirst(4))
        } else if line.hasPrefix("data: ") {
            pending.data += (pendingHasData ? "\n" : "") + line.dropFirst(6)
            pendingHasData = true
        }
    }
}
