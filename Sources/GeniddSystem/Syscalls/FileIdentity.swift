#if canImport(Glibc)
    import Glibc
#endif

/// Which file a path or descriptor refers to: device, inode and, for device
/// nodes, the device number. Used to notice a device node that vanished and
/// came back, or a file replaced by rename.
public struct FileIdentity: Sendable, Equatable {
    let device: UInt64
    let inode: UInt64
    let specialDevice: UInt64
    public let isCharacterDevice: Bool
    public let isRegularFile: Bool
    public let size: Int64
    let links: UInt64
    /// What kind of file it is, for messages.
    public let kind: FileKind
    /// The owning uid.
    public let owner: UInt32
    /// Space allocated to the file, in bytes (a sparse file has less than its size).
    public let allocatedBytes: Int64

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        specialDevice = UInt64(info.st_rdev)
        isCharacterDevice = (info.st_mode & S_IFMT) == S_IFCHR
        isRegularFile = (info.st_mode & S_IFMT) == S_IFREG
        size = Int64(info.st_size)
        links = UInt64(info.st_nlink)
        allocatedBytes = Int64(info.st_blocks) * 512
        owner = info.st_uid
        kind = FileKind(mode: info.st_mode)
    }

    /// The identity of an open descriptor.
    public init(descriptor: Int32, path: String) throws {
        var info = stat()
        try SystemError.check(fstat(descriptor, &info), "fstat", path: path)
        self.init(info)
    }

    /// The identity of the file at `path` now (following symlinks).
    public init(path: String) throws {
        var info = stat()
        try SystemError.check(stat(path, &info), "stat", path: path)
        self.init(info)
    }

    /// True when both name the same file.
    public func isSameFile(as other: FileIdentity) -> Bool {
        device == other.device && inode == other.inode && specialDevice == other.specialDevice
    }
}
