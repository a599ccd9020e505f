#if canImport(Glibc)
    import Glibc
#endif

/// Random identifiers from the kernel's CSPRNG (`getrandom`).
public enum RandomBytes {
    /// `count` random bytes as lowercase hex.
    public static func hex(count: Int) -> String {
        Hex.encode(bytes(count: count))
    }

    /// `count` random bytes. `getrandom` cannot fail on the kernels genidd
    /// supports (3.17+); if it ever did, `/dev/urandom` is read instead, and
    /// with neither genidd stops rather than hand out predictable values.
    static func bytes(count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        do {
            try bytes.withUnsafeMutableBytes { try KernelShims.random(into: $0) }
        } catch {
            do {
                let file = try OwnedDescriptor.open("/dev/urandom", O_RDONLY)
                var filled = 0
                while filled < count {
                    let read = try bytes.withUnsafeMutableBytes {
                        try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) ?? 0
                    }
                    guard read > 0 else { throw SystemError("read", path: file.path, code: EIO) }
                    filled += read
                }
            } catch {
                fatalError("genidd: no source of random bytes (getrandom and /dev/urandom failed: \(error))")
            }
        }
        return bytes
    }
}

/// Lowercase hexadecimal encoding.
public enum Hex {
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
