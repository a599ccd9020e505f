import CGeniddSys

/// Swift entry points to the C helpers in `CGeniddSys` (the only file that imports it).
enum KernelShims {
    /// A non-blocking, close-on-exec eventfd, or -1 with errno set.
    static func makeEventDescriptor() -> Int32 { genidd_eventfd() }

    /// Fills `buffer` from the kernel CSPRNG; returns bytes written or -1.
    static func random(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        genidd_getrandom(buffer.baseAddress, buffer.count)
    }

    /// Names the calling thread (at most 15 bytes).
    static func setThreadName(_ name: String) { genidd_set_thread_name(String(name.prefix(15))) }

    /// Zeroes memory in a way the compiler may not elide.
    static func secureZero(_ buffer: UnsafeMutableRawBufferPointer) {
        genidd_secure_zero(buffer.baseAddress, buffer.count)
    }

    /// A volatile 32-bit load from a shared mapping.
    static func volatileLoad32(_ pointer: UnsafeRawPointer) -> UInt32 { genidd_volatile_load_u32(pointer) }

    /// A volatile 64-bit load from a shared mapping.
    static func volatileLoad64(_ pointer: UnsafeRawPointer) -> UInt64 { genidd_volatile_load_u64(pointer) }

    /// A close-on-exec epoll instance, or -1 with errno set.
    static func epollCreate() -> Int32 { genidd_epoll_create() }

    /// Watches `fd` for readability, hang-up and errors, reported with `tag`.
    static func epollAdd(_ epoll: Int32, _ fd: Int32, tag: UInt64) -> Int32 { genidd_epoll_add(epoll, fd, tag) }

    /// Watches `fd` once for the peer hanging up, reported with `tag` (re-arms an existing registration).
    static func epollWatchHangup(_ epoll: Int32, _ fd: Int32, tag: UInt64) -> Int32 {
        genidd_epoll_watch_hangup(epoll, fd, tag)
    }

    /// Returns free heap memory to the kernel.
    static func trimHeap() { genidd_trim_heap() }

    /// Ready tags and their event bits, without blocking.
    static func epollReady(_ epoll: Int32) -> [(tag: UInt64, events: UInt32)] {
        var tags = [UInt64](repeating: 0, count: 16)
        var events = [UInt32](repeating: 0, count: 16)
        let count = genidd_epoll_ready(epoll, &tags, &events, 16)
        guard count > 0 else { return [] }
        return (0..<Int(count)).map { (tags[$0], events[$0]) }
    }

    /// The sysgenid driver's count of outdated watchers, or -1 when the ioctl fails.
    static func sysgenidOutdatedWatchers(_ fd: Int32) -> Int32 { genidd_sysgenid_outdated_watchers(fd) }

    /// A non-blocking uevent netlink socket on broadcast group 1, or -1.
    static func ueventOpen() -> Int32 { genidd_uevent_open() }

    /// One uevent datagram and its sender's port id (0 = the kernel); -1 with errno on error.
    static func ueventReceive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (Int, UInt32) {
        var sender: UInt32 = .max
        let count = genidd_uevent_receive(fd, buffer.baseAddress, buffer.count, &sender)
        return (count, sender)
    }

    /// Grows a socket's receive buffer (forcing past rmem_max when privileged).
    static func setReceiveBuffer(_ fd: Int32, bytes: Int32) -> Int32 { genidd_set_receive_buffer(fd, bytes) }

    /// A consistent snapshot of a VMClock page read under its seqcount, or nil
    /// when every one of `attempts` reads was torn (an update in progress).
    static func readVMClock(_ page: MappedPage, attempts: UInt32) -> VMClockSnapshot? {
        var reading = genidd_vmclock_reading()
        guard genidd_vmclock_read(page.pointer, page.length, attempts, &reading) == 0 else { return nil }
        return VMClockSnapshot(
            magic: reading.magic, size: reading.size, version: reading.version, sequence: reading.seq_count,
            disruptionMarker: reading.disruption_marker, flags: reading.flags,
            vmGenerationCounter: reading.vm_generation_counter)
    }

    /// The peer's uid and gid on a Unix socket, or nil.
    static func peerCredentials(_ fd: Int32) -> (uid: UInt32, gid: UInt32)? {
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        return genidd_peer_credentials(fd, &uid, &gid) == 0 ? (uid, gid) : nil
    }

    /// `SYSGENID_FORCE_GEN_UPDATE(minimum)`; 0 or -1 with errno.
    static func sysgenidForceUpdate(_ fd: Int32, minimum: UInt) -> Int32 {
        genidd_sysgenid_force_update(fd, minimum)
    }

    /// True when `fd` is on tmpfs (false when not, or unknown).
    static func isOnTmpfs(_ fd: Int32) -> Bool { genidd_is_on_tmpfs(fd) == 1 }

    /// An acquire fence for the seqcount read protocol.
    static func acquireFence() { genidd_acquire_fence() }

    /// A non-blocking, close-on-exec signalfd for `signals`, or -1 with errno set.
    static func signalDescriptor(_ signals: inout sigset_t) -> Int32 { genidd_signalfd(&signals) }

    /// One pending signal from a signalfd: its number, 0 when none, -1 with errno set.
    static func takeSignal(_ fd: Int32) -> Int32 { genidd_signalfd_take(fd) }
}
