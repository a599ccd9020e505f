import Foundation

/// The FUSE emulation of `/dev/sysgenid` (Tests/Fixtures/sysgenid-fuse),
/// mounted in a test's directory: `device` behaves as the character device,
/// `control` plays the hypervisor and `status` reports watcher counts and acks.
final class SysgenidEmulator {
    let mountpoint: String
    var device: String { mountpoint + "/sysgenid" }
    /// The ioctl ABI revision emulated: `v4`, `v5` or `v7`.
    let abi: String
    private var process: Process?

    /// True where the emulator can run: root and /dev/fuse.
    static var available: Bool { getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/fuse") }

    /// Builds the emulator once per test run (build.sh installs libfuse3 if missing).
    static let binary: Result<String, DaemonTestError> = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let output = root.appendingPathComponent(".build/fixtures/sysgenid-fuse").path
        do {
            let result = try runCommand(
                "/bin/bash", [root.appendingPathComponent("Tests/Fixtures/sysgenid-fuse/build.sh").path, output],
                timeout: 300)
            guard result.status == 0 else { return .failure(DaemonTestError("build.sh failed:\n\(result.output)")) }
        } catch {
            return .failure(DaemonTestError("build.sh: \(error)"))
        }
        return .success(output)
    }()

    init(in directory: URL, initial: UInt32, abi: String = "v4") throws {
        self.abi = abi
        mountpoint = directory.appendingPathComponent("sysgenid-mnt").path
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        try start(initial: initial)
    }

    /// Mounts the emulator and waits until the device answers.
    func start(initial: UInt32) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.binary.get())
        process.arguments = ["-i", String(initial), "--abi", abi, mountpoint]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while (try? status())?["generation"] == nil {
            guard Date() < deadline, process.isRunning else { throw DaemonTestError("sysgenid-fuse did not mount") }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Unmounts: the device disappears for anyone who has it open.
    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        self.process = nil
    }

    deinit {
        stop()
    }

    /// Sends a command to the emulated hypervisor: `bump`, `set N`, `force N`.
    func control(_ command: String) throws {
        try Data((command + "\n").utf8).write(to: URL(fileURLWithPath: mountpoint + "/control"))
    }

    /// The status line as numbers: generation, watchers, outdated, acks, ...
    func status() throws -> [String: Int] {
        let line = try String(contentsOfFile: mountpoint + "/status", encoding: .utf8)
        var values: [String: Int] = [:]
        for pair in line.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = pair.split(separator: "=")
            if parts.count == 2, let value = Int(parts[1]) { values[String(parts[0])] = value }
        }
        return values
    }

    /// Polls the status until `condition` holds; returns the status then.
    func waitForStatus(timeout: Double = 5, _ condition: ([String: Int]) -> Bool) throws -> [String: Int] {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [String: Int] = [:]
        while Date() < deadline {
            last = try status()
            if condition(last) { return last }
            Thread.sleep(forTimeInterval: 0.002)
        }
        throw DaemonTestError("emulator status never matched; last: \(last)")
    }
}
