import CNettle
import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Turns the VM generation UUID in `--uuid-file` into the only form genidd
/// ever exposes: `sha256:` + hex HMAC-SHA256(key, "genidd-uuid-v1:" + U), where
/// U is the canonical lowercase 36-character text form.
///
/// The raw UUID is read straight into a ``SecretBuffer`` and wiped before
/// ``hash()`` returns, together with nettle's working context that absorbed
/// it. The key is kept only as nettle's keyed context, in a second
/// ``SecretBuffer`` wiped when the hasher goes. Errors never quote the
/// file's contents.
public final class UUIDHasher: @unchecked Sendable {
    // Unchecked: used only from the source thread, one call at a time.
    private let path: String
    /// The keyed HMAC context (inner and outer states), at offset 0.
    private let keyed: SecretBuffer
    /// The raw file, the message and the working context; wiped after each hash.
    private let secret: SecretBuffer
    private static let domain = Array("genidd-uuid-v1:".utf8)

    // Layout of `secret`: [0, 128) raw file bytes, [128, 128+15+36) message,
    // [256, 256+context size) nettle's working context.
    private static let rawCapacity = 128
    private static let messageStart = 128
    private static let scratchStart = 256

    /// - Parameters:
    ///   - uuidFile: a file holding the UUID as text or as 16 raw bytes (GUID layout).
    ///   - key: the exact bytes of `--hash-key-file` (empty when not given).
    public init(uuidFile: String, key: [UInt8]) throws {
        path = uuidFile
        keyed = try SecretBuffer()
        secret = try SecretBuffer()
        let size = cnettle_hmac_sha256_context_size()
        guard Self.scratchStart % cnettle_hmac_sha256_context_alignment() == 0,
            Self.scratchStart + size <= secret.bytes.count, size <= keyed.bytes.count
        else {
            throw UUIDFileError(path: path, problem: "nettle's HMAC context (\(size) bytes) does not fit a page")
        }
        key.withUnsafeBufferPointer { key in
            cnettle_hmac_sha256_set_key(keyed.bytes.baseAddress, key.baseAddress, key.count)
        }
    }

    /// Reads the UUID file now and returns its keyed hash.
    public func hash() throws -> String {
        defer { secret.wipe() }
        let buffer = secret.bytes
        let length = try readRaw(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Self.rawCapacity]))
        let messageStart = Self.messageStart
        for (index, byte) in Self.domain.enumerated() {
            buffer[messageStart + index] = byte
        }
        let textStart = messageStart + Self.domain.count
        let text = UnsafeMutableRawBufferPointer(rebasing: buffer[textStart..<(textStart + 36)])
        let raw = UnsafeRawBufferPointer(rebasing: buffer[0..<length])
        if length == 16 {
            Self.formatGUID(raw, into: text)
        } else {
            try Self.canonicalizeText(raw, into: text, path: path)
        }
        let message = UnsafeRawBufferPointer(rebasing: buffer[messageStart..<(textStart + 36)])
        let scratch = UnsafeMutableRawBufferPointer(rebasing: buffer[Self.scratchStart...])
        var code = [UInt8](repeating: 0, count: cnettle_sha256_digest_size())
        cnettle_hmac_sha256_digest(
            keyed.bytes.baseAddress, scratch.baseAddress, message.baseAddress, message.count, &code)
        return "sha256:" + Hex.encode(code)
    }

    /// True for `sha256:` and 64 lowercase hex digits, the only form `hash()` returns.
    static func isValidHash(_ text: String) -> Bool {
        let prefix = "sha256:"
        guard text.hasPrefix(prefix), text.utf8.count == prefix.utf8.count + 64 else { return false }
        return text.utf8.dropFirst(prefix.utf8.count).allSatisfy {
            (0x30...0x39).contains($0) || (0x61...0x66).contains($0)
        }
    }

    private func readRaw(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        let file = try FileIO.openRegularFile(path)
        var filled = 0
        while filled < destination.count {
            let count = try retryingEINTR("read", path: path) {
                read(file.raw, destination.baseAddress! + filled, destination.count - filled)
            }
            if count == 0 { break }
            filled += count
        }
        if filled == destination.count {
            throw UUIDFileError(path: path, problem: "is larger than a UUID")
        }
        return filled
    }

    /// 16 bytes in the GUID memory layout (first three fields little-endian) as text.
    static func formatGUID(_ raw: UnsafeRawBufferPointer, into text: UnsafeMutableRawBufferPointer) {
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        let digits = Array("0123456789abcdef".utf8)
        var out = 0
        for (position, index) in order.enumerated() {
            if position == 4 || position == 6 || position == 8 || position == 10 {
                text[out] = UInt8(ascii: "-")
                out += 1
            }
            text[out] = digits[Int(raw[index] >> 4)]
            text[out + 1] = digits[Int(raw[index] & 0x0f)]
            out += 2
        }
    }

    /// Text in any case with surrounding whitespace, checked and lowercased.
    static func canonicalizeText(
        _ raw: UnsafeRawBufferPointer, into text: UnsafeMutableRawBufferPointer, path: String
    ) throws {
        var start = 0
        var end = raw.count
        while start < end, isSpace(raw[start]) { start += 1 }
        while end > start, isSpace(raw[end - 1]) { end -= 1 }
        guard end - start == 36 else {
            throw UUIDFileError(path: path, problem: "does not hold a UUID (36 characters or 16 bytes)")
        }
        for offset in 0..<36 {
            let byte = raw[start + offset]
            if offset == 8 || offset == 13 || offset == 18 || offset == 23 {
                guard byte == UInt8(ascii: "-") else {
                    throw UUIDFileError(path: path, problem: "does not hold a UUID (misplaced hyphens)")
                }
                text[offset] = byte
                continue
            }
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"):
                text[offset] = byte
            case UInt8(ascii: "A")...UInt8(ascii: "F"):
                text[offset] = byte + 32
            default:
                throw UUIDFileError(path: path, problem: "does not hold a UUID (non-hex character)")
            }
        }
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0d).contains(byte)
    }
}

/// A UUID file that cannot be used. The message names the file, never its contents.
struct UUIDFileError: Error, CustomStringConvertible, Sendable {
    let path: String
    let problem: String
    var description: String { "\(path): \(problem)" }
}
