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

    /// An acquire fence for the seqcount read protocol.
    static func acquireFence() { genidd_acquire_fence() }
}
