import CGeniddSys

#if canImport(Glibc)
    import Glibc
#endif

/// Swift entry points to the C helpers in `CGeniddSys` (the only file that
/// imports it). Calls that can fail throw a ``SystemError`` naming the call
/// (and the path, when one is given); none returns -1 and errno.
public enum KernelShims {
    /// A non-blocking, close-on-exec eventfd.
    static func makeEventDescriptor() throws -> Int32 {
        try SystemError.check(genidd_eventfd(), "eventfd")
    }

    /// Fills `buffer` from the kernel CSPRNG, retrying interrupted and short reads.
    static func random(into buffer: UnsafeMutableRawBufferPointer) throws {
        var filled = 0
        while filled < buffer.count {
            filled += try retryingEINTR("getrandom") {
                genidd_getrandom(buffer.baseAddress! + filled, buffer.count - filled)
            }
        }
    }

    /// Names the calling thread (at most 15 bytes).
    static func setThreadName(_ name: String) { genidd_set_thread_name(String(name.prefix(15))) }

    /// Zeroes memory in a way the compiler may not elide.
    public static func secureZero(_ buffer: UnsafeMutableRawBufferPointer) {
        genidd_secure_zero(buffer.baseAddress, buffer.count)
    }

    /// A volatile 32-bit load from a shared mapping.
    static func volatileLoad32(_ pointer: UnsafeRawPointer) -> UInt32 { genidd_volatile_load_u32(pointer) }

    /// A volatile 64-bit load from a shared mapping.
    static func volatileLoad64(_ pointer: UnsafeRawPointer) -> UInt64 { genidd_volatile_load_u64(pointer) }

    /// A close-on-exec epoll instance.
    static func epollCreate() throws -> Int32 {
        try SystemError.check(genidd_epoll_create(), "epoll_create1")
    }

    /// Watches `fd` for readability, hang-up and errors, reported with `tag`.
    static func epollAdd(_ epoll: Int32, _ fd: Int32, tag: UInt64) throws {
        try SystemError.check(genidd_epoll_add(epoll, fd, tag), "epoll_ctl")
    }

    /// Watches `fd` once for the peer hanging up, reported with `tag` (re-arms an existing registration).
    static func epollWatchHangup(_ epoll: Int32, _ fd: Int32, tag: UInt64) throws {
        try SystemError.check(genidd_epoll_watch_hangup(epoll, fd, tag), "epoll_ctl")
    }

    /// Ready tags and their event bits, without blocking (at most 16 at a time).
    static func epollReady(_ epoll: Int32) -> [(tag: UInt64, events: UInt32)] {
        var tags = [UInt64](repeating: 0, count: 16)
        var events = [UInt32](repeating: 0, count: 16)
        let count = genidd_epoll_ready(epoll, &tags, &events, 16)
        guard count > 0 else { return [] }
        return (0..<Int(count)).map { (tags[$0], events[$0]) }
    }

    /// Returns free heap memory to the kernel, after many connections closed at once.
    public static func trimHeap() { genidd_trim_heap() }

    /// `SYSGENID_GET_OUTDATED_WATCHERS` (ABI v4 only): the driver's count of
    /// outdated watchers. Later revisions fail with `EINVAL`.
    public static func sysgenidOutdatedWatchers(_ file: OwnedDescriptor) throws -> Int {
        Int(
            try SystemError.check(
                genidd_sysgenid_outdated_watchers(file.raw), "ioctl(SYSGENID_GET_OUTDATED_WATCHERS)", path: file.path))
    }

    /// `SYSGENID_SET_WATCHER_TRACKING(enabled)` (ABI v7; never on a v5 device).
    public static func sysgenidSetWatcherTracking(_ file: OwnedDescriptor, enabled: Bool) throws {
        try SystemError.check(
            genidd_sysgenid_set_watcher_tracking(file.raw, enabled ? 1 : 0), "ioctl(SYSGENID_SET_WATCHER_TRACKING)",
            path: file.path)
    }

    /// `SYSGENID_FORCE_GEN_UPDATE(minimum)` (`TRIGGER_GEN_UPDATE` in v7) in the
    /// numbering of ABI `revision` (4, 5 or 7).
    public static func sysgenidForceUpdate(_ file: OwnedDescriptor, revision: Int32, minimum: UInt) throws {
        try SystemError.check(
            genidd_sysgenid_force_update(file.raw, revision, minimum),
            revision == 7 ? "ioctl(SYSGENID_TRIGGER_GEN_UPDATE)" : "ioctl(SYSGENID_FORCE_GEN_UPDATE)", path: file.path)
    }

    /// A non-blocking uevent netlink socket on the kernel's broadcast group 1.
    public static func ueventOpen() throws -> OwnedDescriptor {
        OwnedDescriptor(
            try SystemError.check(genidd_uevent_open(), "socket(NETLINK_KOBJECT_UEVENT)"), path: "uevent socket")
    }

    /// One uevent datagram and its sender's netlink port id (0 = the kernel),
    /// or nil when none is queued. Throws `ENOBUFS` when the socket overran.
    public static func ueventReceive(_ socket: OwnedDescriptor, into buffer: UnsafeMutableRawBufferPointer) throws
        -> (count: Int, sender: UInt32)?
    {
        var sender: UInt32 = .max
        while true {
            let count = genidd_uevent_receive(socket.raw, buffer.baseAddress, buffer.count, &sender)
            if count >= 0 { return (count, sender) }
            switch errno {
            case EINTR: continue
            case EAGAIN: return nil
            default: throw SystemError("recvmsg", path: socket.path)
            }
        }
    }

    /// Grows a socket's receive buffer (forcing past rmem_max when privileged).
    public static func setReceiveBuffer(_ socket: OwnedDescriptor, bytes: Int32) throws {
        try SystemError.check(genidd_set_receive_buffer(socket.raw, bytes), "setsockopt(SO_RCVBUF)", path: socket.path)
    }

    /// A consistent snapshot of a VMClock page read under its seqcount, or nil
    /// when every one of `attempts` reads was torn (an update in progress).
    public static func readVMClock(_ page: MappedPage, attempts: UInt32) -> VMClockSnapshot? {
        var reading = genidd_vmclock_reading()
        guard genidd_vmclock_read(page.pointer, page.length, attempts, &reading) == 0 else { return nil }
        return VMClockSnapshot(
            magic: reading.magic, size: reading.size, version: reading.version, sequence: reading.seq_count,
            disruptionMarker: reading.disruption_marker, flags: reading.flags,
            vmGenerationCounter: reading.vm_generation_counter)
    }

    /// The uid and gid of the process at the other end of a Unix socket (`SO_PEERCRED`).
    public static func peerCredentials(_ fd: Int32) throws -> (uid: UInt32, gid: UInt32) {
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        try SystemError.check(genidd_peer_credentials(fd, &uid, &gid), "getsockopt(SO_PEERCRED)")
        return (uid, gid)
    }

    /// True when `file` is on tmpfs.
    public static func isOnTmpfs(_ file: OwnedDescriptor) throws -> Bool {
        try SystemError.check(genidd_is_on_tmpfs(file.raw), "fstatfs", path: file.path) == 1
    }

    /// A non-blocking, close-on-exec signalfd for `signals`, which the caller has blocked.
    static func signalDescriptor(_ signals: inout sigset_t) throws -> Int32 {
        try SystemError.check(genidd_signalfd(&signals), "signalfd")
    }

    /// One pending signal from a signalfd: its number, or nil when none is pending.
    static func takeSignal(_ fd: Int32) throws -> Int32? {
        let number = try SystemError.check(genidd_signalfd_take(fd), "read", path: "signalfd")
        return number == 0 ? nil : number
    }
}
