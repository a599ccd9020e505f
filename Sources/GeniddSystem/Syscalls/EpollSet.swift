#if canImport(Glibc)
    import Glibc
#endif

/// An epoll instance that lets a source wait on several descriptors (a device,
/// an inotify watch) through the one descriptor ``SourceRunner`` polls.
public final class EpollSet: Sendable {
    public let descriptor: Int32

    /// `EPOLLHUP` and `EPOLLERR` bits, as reported by ``ready()``.
    public static let hangUp: UInt32 = 0x10
    public static let error: UInt32 = 0x08

    public init() throws {
        descriptor = try KernelShims.epollCreate()
    }

    deinit {
        close(descriptor)
    }

    /// Watches `fd` for readability, hang-up and errors, reported with `tag`.
    public func add(_ fd: Int32, tag: UInt64) throws {
        try KernelShims.epollAdd(descriptor, fd, tag: tag)
    }

    /// Watches `fd` once for its peer hanging up (not for data), reported
    /// with `tag`; watching it again re-arms it with the new tag.
    public func watchHangup(_ fd: Int32, tag: UInt64) throws {
        try KernelShims.epollWatchHangup(descriptor, fd, tag: tag)
    }

    /// The tags (and event bits) of descriptors that are ready now; never blocks.
    public func ready() -> [(tag: UInt64, events: UInt32)] {
        KernelShims.epollReady(descriptor)
    }
}
