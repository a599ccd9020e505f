#if canImport(Glibc)
    import Glibc
#endif

/// A read-only mapping of the first page of a device or file, read with
/// volatile loads so that every check sees what the hypervisor (or another
/// process) wrote last. Reading it costs no syscall.
public final class MappedPage {
    let length: Int
    private let base: UnsafeMutableRawPointer

    /// The system page size.
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Maps `length` bytes of `descriptor` read-only. Tries `MAP_SHARED` (what
    /// the kernel ABIs document) and falls back to `MAP_PRIVATE` for files that
    /// refuse shared mappings (FUSE with direct I/O); an unwritten private
    /// mapping still shows the file's current pages.
    public init(descriptor: Int32, path: String, length: Int = MappedPage.pageSize) throws {
        var mapped = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, 0)
        if mapped == MAP_FAILED && errno == ENODEV {
            mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, descriptor, 0)
        }
        guard let mapped, mapped != MAP_FAILED else {
            throw SystemError("mmap", path: path)
        }
        base = mapped
        self.length = length
    }

    deinit {
        munmap(base, length)
    }

    /// The little-endian u32 at `offset` (4-byte aligned).
    public func loadUInt32(at offset: Int) -> UInt32 {
        UInt32(littleEndian: KernelShims.volatileLoad32(UnsafeRawPointer(base) + offset))
    }

    /// The little-endian u64 at `offset` (8-byte aligned).
    func loadUInt64(at offset: Int) -> UInt64 {
        UInt64(littleEndian: KernelShims.volatileLoad64(UnsafeRawPointer(base) + offset))
    }

    /// The start of the mapping, for C helpers that read structures under a seqcount.
    var pointer: UnsafeRawPointer { UnsafeRawPointer(base) }
}
