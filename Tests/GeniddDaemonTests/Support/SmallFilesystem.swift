import Foundation

/// A small tmpfs mounted for one test (needs root), to make writes fail with
/// ENOSPC as a full `/run` does. Unmounted (lazily) when released.
final class SmallFilesystem {
    let url: URL
    var path: String { url.path }
    private var filler: URL { url.appendingPathComponent(".filler") }

    static var available: Bool { getuid() == 0 }

    init(at url: URL, kibibytes: Int) throws {
        self.url = url
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let mounted = try runCommand(
            "/bin/mount", ["-t", "tmpfs", "-o", "size=\(kibibytes)k,mode=0755", "tmpfs", url.path])
        guard mounted.status == 0 else { throw DaemonTestError("mount tmpfs at \(url.path): \(mounted.output)") }
    }

    deinit {
        _ = try? runCommand("/bin/umount", ["-l", url.path])
    }

    /// Fills every free byte with a file; `free()` removes it.
    func fill() throws {
        let fd = open(filler.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw DaemonTestError("create \(filler.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x5a, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        guard errno == ENOSPC else { throw DaemonTestError("filling \(path): \(String(cString: strerror(errno)))") }
    }

    /// Gives the space back.
    func free() throws {
        try FileManager.default.removeItem(at: filler)
    }
}
