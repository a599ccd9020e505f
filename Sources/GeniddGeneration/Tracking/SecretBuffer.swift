import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// One page of memory for the raw VM generation UUID: excluded from core dumps
/// (`MADV_DONTDUMP`), kept out of swap where `mlock` is allowed, and zeroed with
/// `explicit_bzero` after every use. The UUID never lives anywhere else.
final class SecretBuffer {
    let bytes: UnsafeMutableRawBufferPointer

    init() throws {
        let size = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard
            let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            base != MAP_FAILED
        else {
            throw SystemError("mmap")
        }
        // Best effort: both can fail without privileges, which only weakens swap protection.
        _ = madvise(base, size, MADV_DONTDUMP)
        _ = mlock(base, size)
        bytes = UnsafeMutableRawBufferPointer(start: base, count: size)
    }

    deinit {
        wipe()
        munlock(bytes.baseAddress, bytes.count)
        munmap(bytes.baseAddress, bytes.count)
    }

    /// Zeroes the whole buffer.
    func wipe() {
        KernelShims.secureZero(bytes)
    }
}
