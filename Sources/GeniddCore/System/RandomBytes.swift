#if canImport(Glibc)
    import Glibc
#endif

/// Random identifiers from the kernel's CSPRNG (`getrandom`).
public enum RandomBytes {
    /// `count` random bytes as lowercase hex.
    public static func hex(count: Int) -> String {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let result = bytes.withUnsafeMutableBytes { buffer in
                KernelShims.random(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            }
            if result > 0 {
                filled += result
            } else if errno != EINTR {
                // getrandom only fails before the CSPRNG is seeded on ancient kernels.
                break
            }
        }
        return Hex.encode(bytes)
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
