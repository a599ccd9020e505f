import Foundation
import Testing

extension DaemonTests {
    @Suite("--export-sysgenid and --export-vmgenid: device-layout files for unmodified libraries")
    struct Export {
        @Test(
            "a read-only shared mapping in another process sees each new seq without reopening; restarts keep the file"
        )
        func mappedExport() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "1")
            let sysgenid = directory.appendingPathComponent("sysgenid").path
            let vmgenid = directory.appendingPathComponent("vmgenid").path
            let arguments = [
                "--source", counter.sourceArgument, "--export-sysgenid", sysgenid, "--export-vmgenid", vmgenid,
            ]
            var daemon = try DaemonProcess(directory: directory, arguments: arguments)
            var info = stat()
            #expect(stat(sysgenid, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o444)
            #expect(info.st_size == 4096)
            let inode = info.st_ino

            // This test process maps the file as AWS-LC maps /dev/sysgenid.
            let fd = open(sysgenid, O_RDONLY)
            #expect(fd >= 0)
            defer { close(fd) }
            let mapping = try #require(mmap(nil, 4096, PROT_READ, MAP_SHARED, fd, 0))
            #expect(mapping != MAP_FAILED)
            defer { munmap(mapping, 4096) }
            let word = mapping.assumingMemoryBound(to: UInt32.self)
            func mapped() -> UInt32 { UInt32(littleEndian: word.pointee) }
            #expect(mapped() == 1, "the export holds seq 1")

            let watch = try ChangeWatch(daemon)
            _ = try watch.expectChange { try counter.write("2") }
            #expect(mapped() == 2, "the mapping shows the new seq without reopening")
            let plain = try Data(contentsOf: URL(fileURLWithPath: vmgenid)).prefix(4)
            #expect(Array(plain) == [2, 0, 0, 0], "the vmgenid export reads as the 4-byte counter")

            #expect(daemon.terminate()?.status == 0)
            #expect(mapped() == 2, "the file keeps its value while genidd is stopped")
            daemon = try DaemonProcess(directory: directory, arguments: arguments)
            #expect(stat(sysgenid, &info) == 0)
            #expect(info.st_ino == inode, "the file is reused, never recreated")
            #expect(mapped() == 2)
            let again = try ChangeWatch(daemon)
            _ = try again.expectChange { try counter.write("3") }
            #expect(mapped() == 3)
        }

        @Test("an export path that is a directory is refused with a clear error")
        func badExportPath() throws {
            let directory = try DaemonProcess.makeDirectory()
            let result = try runCommand(
                DaemonProcess.binary,
                [
                    "serve", "--source", "file:/dev/null", "--state-dir", directory.appendingPathComponent("s").path,
                    "--export-sysgenid", directory.path, "--listen", "127.0.0.1:0",
                ])
            #expect(result.status != 0)
            #expect(result.output.contains(directory.path), "\(result.output)")
        }
    }
}
