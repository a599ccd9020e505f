import Foundation
import Synchronization

/// A `genidd` client command (`watch`, `wait`) running in the background,
/// with its standard output and standard error collected as lines.
final class ClientProcess: @unchecked Sendable {
    // Unchecked: `process` is only used from the test's task; output is behind Mutexes.
    let process = Process()
    private let standardOutput = LineCollector()
    private let standardError = LineCollector()
    private let outputPipe = Pipe()
    private let errorPipe = Pipe()
    /// Pipes whose reader saw end of file.
    private let closedPipes = PipeCount()

    /// Starts `genidd ARGUMENTS` with no GENIDD_* variables in its environment.
    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: DaemonProcess.binary)
        process.arguments = arguments
        process.standardOutput = outputPipe
        process.standardError = errorPipe
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GENIDD_") }
        let closedPipes = self.closedPipes
        for (pipe, collector) in [(outputPipe, standardOutput), (errorPipe, standardError)] {
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                guard !data.isEmpty else {
                    handle.readabilityHandler = nil
                    closedPipes.count.withLock { $0 += 1 }
                    return
                }
                collector.append(String(decoding: data, as: UTF8.self))
            }
        }
        try process.run()
    }

    /// Complete lines written to standard output so far.
    var outputLines: [String] { standardOutput.lines }
    /// Complete lines written to standard error so far.
    var errorLines: [String] { standardError.lines }
    /// Everything so far, for failure messages.
    var log: String { (outputLines + errorLines).joined(separator: "\n") }

    /// Waits until standard output has at least `count` lines.
    func waitForOutput(lines count: Int, timeout: Double) -> Bool {
        waitUntil(timeout: timeout) { self.outputLines.count >= count }
    }

    /// Waits until at least `count` lines of standard error contain `text`.
    func waitForError(containing text: String, count: Int = 1, timeout: Double) -> Bool {
        waitUntil(timeout: timeout) { self.errorLines.filter { $0.contains(text) }.count >= count }
    }

    /// Sends SIGTERM and waits; returns the exit status, or nil when it did not exit in time.
    func terminate(timeout: Double = 5) -> Int32? {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
        }
        return waitForExit(timeout: timeout)
    }

    /// Waits for the process to exit on its own; returns its status.
    func waitForExit(timeout: Double) -> Int32? {
        guard waitUntil(timeout: timeout, { !self.process.isRunning }) else { return nil }
        process.waitUntilExit()
        // Let the pipe readers collect the last lines.
        _ = waitUntil(timeout: 2) { self.closedPipes.count.withLock { $0 } == 2 }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// A counter the pipe readers share.
private final class PipeCount: Sendable {
    let count = Mutex(0)
}

/// Polls `condition` every 10 ms until it holds or `timeout` seconds pass.
func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        guard Date() < deadline else { return false }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return true
}

/// The lines of a file that commands append to (empty while it does not exist).
func fileLines(_ url: URL) -> [String] {
    guard let data = try? Data(contentsOf: url) else { return [] }
    return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
}
