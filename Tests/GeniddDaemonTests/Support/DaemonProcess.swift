import Foundation
import Synchronization

/// The real `genidd` binary, started for one test in its own temporary
/// directory, on an ephemeral loopback port and a Unix socket.
final class DaemonProcess: @unchecked Sendable {
    // Unchecked: `process` is only used from the test's task; output is behind a Mutex.
    let directory: URL
    let process: Process
    private let output = LineCollector()
    private let stderrPipe = Pipe()
    private(set) var port: UInt16 = 0
    var unixSocket: String { directory.appendingPathComponent("state/genidd.sock").path }
    var stateDirectory: String { directory.appendingPathComponent("state").path }

    /// The path of the built `genidd` executable, next to the test bundle.
    static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["GENIDD_BINARY"] {
            return explicit
        }
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("genidd").path
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
            directory = directory.deletingLastPathComponent()
        }
        return ".build/debug/genidd"
    }

    /// Creates a temporary directory for a daemon (counter file, state, socket).
    static func makeDirectory() throws -> URL {
        let url = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("genidd-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Starts `genidd serve` with `arguments` (state dir, TCP :0 and Unix socket
    /// are added unless given) and waits until it logs "ready".
    init(directory: URL? = nil, arguments: [String], waitForReady: Bool = true) throws {
        self.directory = try directory ?? Self.makeDirectory()
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        var full = ["serve"] + arguments
        if !arguments.contains("--state-dir") {
            full += ["--state-dir", self.directory.appendingPathComponent("state").path]
        }
        if !arguments.contains("--listen") && !arguments.contains("--no-tcp") {
            full += ["--listen", "127.0.0.1:0"]
        }
        process.arguments = full
        process.standardError = stderrPipe
        process.standardOutput = stderrPipe
        var environment = ProcessInfo.processInfo.environment
        environment = environment.filter { !$0.key.hasPrefix("GENIDD_") }
        process.environment = environment
        let handle = stderrPipe.fileHandleForReading
        let output = self.output
        handle.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            output.append(String(decoding: data, as: UTF8.self))
        }
        try process.run()
        if waitForReady {
            let deadline = Date().addingTimeInterval(10)
            while !lines.contains(where: { $0.contains(" ready ") || $0.contains("\"msg\":\"ready\"") }) {
                guard Date() < deadline, process.isRunning else {
                    throw DaemonTestError("genidd did not become ready:\n\(log)")
                }
                Thread.sleep(forTimeInterval: 0.005)
            }
            for line in lines where line.contains("listening") {
                guard let range = line.range(of: #"127\.0\.0\.1:\d+"#, options: .regularExpression) else { continue }
                port = UInt16(line[range].split(separator: ":")[1]) ?? 0
                break
            }
        }
    }

    /// Everything the daemon has written to stderr.
    var lines: [String] { output.lines }
    var log: String { lines.joined(separator: "\n") }

    /// Waits for a log line containing `text`; returns it, or nil on timeout
    /// or when the process exits first.
    @discardableResult
    func waitForLine(containing text: String, after skip: Int = 0, timeout: Double) throws -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let line = lines.dropFirst(skip).first(where: { $0.contains(text) }) {
                return line
            }
            if !process.isRunning {
                Thread.sleep(forTimeInterval: 0.05)
                return lines.dropFirst(skip).first(where: { $0.contains(text) })
            }
            Thread.sleep(forTimeInterval: 0.005)
        }
        return nil
    }

    /// Sends SIGTERM and waits up to `timeout` seconds; returns the exit status
    /// and how long the exit took, or nil when the process did not exit.
    func terminate(timeout: Double = 5) -> (status: Int32, seconds: Double)? {
        let start = Date()
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
        }
        return waitForExit(timeout: timeout, since: start)
    }

    /// Waits for the process to exit on its own.
    func waitForExit(timeout: Double, since start: Date = Date()) -> (status: Int32, seconds: Double)? {
        let deadline = start.addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
        if process.isRunning {
            return nil
        }
        return (process.terminationStatus, Date().timeIntervalSince(start))
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A TCP endpoint for this daemon.
    var tcp: Endpoint { .tcp(port: port) }
    /// The Unix socket endpoint for this daemon.
    var unix: Endpoint { .unix(path: unixSocket) }
}

/// A failure in the test harness itself, with the daemon's log attached.
struct DaemonTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command and returns its exit status and combined output.
func runCommand(_ executable: String, _ arguments: [String], timeout: Double = 20) throws -> (
    status: Int32, output: String
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    var environment = ProcessInfo.processInfo.environment
    environment = environment.filter { !$0.key.hasPrefix("GENIDD_") }
    process.environment = environment
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    let data = Mutex(Data())
    let reader = Thread {
        let all = pipe.fileHandleForReading.readDataToEndOfFile()
        data.withLock { $0 = all }
    }
    reader.start()
    while process.isRunning && Date() < deadline {
        Thread.sleep(forTimeInterval: 0.01)
    }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
    }
    process.waitUntilExit()
    Thread.sleep(forTimeInterval: 0.05)
    return (process.terminationStatus, String(decoding: data.withLock { $0 }, as: UTF8.self))
}

/// Collects a child's output as complete lines, from the pipe's reader thread.
final class LineCollector: Sendable {
    private let state = Mutex<(lines: [String], partial: String)>(([], ""))

    func append(_ text: String) {
        state.withLock { state in
            state.partial += text
            var complete = state.partial.components(separatedBy: "\n")
            state.partial = complete.removeLast()
            state.lines.append(contentsOf: complete)
        }
    }

    var lines: [String] { state.withLock { $0.lines } }
}
