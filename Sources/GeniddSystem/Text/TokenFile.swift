#if canImport(Glibc)
    import Glibc
#endif

/// Bearer tokens kept in files (`--admin-token-file`, `--read-token-file`):
/// the file's contents without surrounding whitespace, at least 16 bytes.
public enum TokenFile {
    /// Reads a token. Throws naming the flag and file when it is unusable.
    /// `warn` hears about files that others can read.
    public static func load(_ path: String, flag: String, warn: (String) -> Void) throws -> [UInt8] {
        let bytes: [UInt8]
        do {
            bytes = try FileIO.readSmallFile(path, limit: 4096)
        } catch {
            throw ConfigurationError("\(flag): \(error)")
        }
        let token = Array(String(decoding: bytes, as: UTF8.self).trimmingWhitespace().utf8)
        guard token.count >= 16 else {
            throw ConfigurationError("\(flag): \(path) holds a token shorter than 16 bytes")
        }
        guard !token.contains(where: { $0 < 0x21 || $0 > 0x7e }) else {
            throw ConfigurationError("\(flag): \(path) must hold one token of printable ASCII without spaces")
        }
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & 0o077 != 0 {
            warn("\(flag): \(path) is readable by other users; chmod 600 it")
        }
        return token
    }
}
