#if canImport(Glibc)
    import Glibc
#endif

/// inotify on the directory holding a path, filtered to that name, so that
/// writes, atomic replacement by rename, deletion and re-creation are all
/// seen; optionally also modifications of the open file itself (in-place
/// `pwrite` by a process that keeps the file open never closes it).
public final class PathWatch {
    /// Readable when events are queued.
    public let descriptor: Int32
    private let path: String
    private let directory: String
    private let fileName: String
    private var fileWatch: Int32 = -1
    private var buffer = [UInt8](repeating: 0, count: 4096)

    /// What happened since the last `drain()`.
    public struct Changes: Equatable {
        /// The name was written, replaced, deleted or its attributes changed.
        public var nameTouched = false
        /// The watched file's contents were modified in place.
        var contentsModified = false
        /// Events were lost (inotify queue overflow): assume anything changed.
        var overflowed = false
        public var any: Bool { nameTouched || contentsModified || overflowed }
    }

    public init(path: String) throws {
        self.path = path
        if let slash = path.lastIndex(of: "/") {
            let parent = String(path[..<slash])
            directory = parent.isEmpty ? "/" : parent
            fileName = String(path[path.index(after: slash)...])
        } else {
            directory = "."
            fileName = path
        }
        descriptor = try SystemError.check(inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)), "inotify_init1")
        let mask =
            UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_MOVED_FROM) | UInt32(IN_DELETE)
            | UInt32(IN_ATTRIB) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF)
            | UInt32(IN_ONLYDIR)
        if inotify_add_watch(descriptor, directory, mask) < 0 {
            let error = SystemError("inotify_add_watch", path: directory)
            close(descriptor)
            throw error
        }
    }

    deinit {
        close(descriptor)
    }

    /// Also reports in-place modifications of the file currently at the path.
    public func watchContents() throws {
        let watch = inotify_add_watch(descriptor, path, UInt32(IN_MODIFY) | UInt32(IN_CLOSE_WRITE))
        if watch < 0 {
            throw SystemError("inotify_add_watch", path: path)
        }
        fileWatch = watch
    }

    /// Reads queued events. Throws when the directory itself went away.
    public func drain() throws -> Changes {
        var changes = Changes()
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { return changes }
                throw SystemError("read", path: "inotify(\(directory))")
            }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let (watch, mask, nameLength) = buffer.withUnsafeBytes { raw in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.wd, event.mask, Int(event.len))
                }
                let nameStart = offset + MemoryLayout<inotify_event>.size
                offset = nameStart + nameLength
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    changes.overflowed = true
                    continue
                }
                if watch == fileWatch && fileWatch >= 0 {
                    if mask & (UInt32(IN_MODIFY) | UInt32(IN_CLOSE_WRITE)) != 0 {
                        changes.contentsModified = true
                    }
                    continue
                }
                if mask & (UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_IGNORED)) != 0 {
                    throw SystemError("inotify", path: directory, code: ENOENT)
                }
                if nameLength > 0 {
                    let name = buffer[nameStart..<(nameStart + nameLength)].prefix { $0 != 0 }
                    if name.elementsEqual(fileName.utf8) {
                        changes.nameTouched = true
                    }
                }
            }
        }
    }
}
