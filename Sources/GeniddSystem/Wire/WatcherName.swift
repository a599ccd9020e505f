/// The rules for the words clients and genidd exchange about watchers:
/// names in paths and queries, and the secrets that prove ownership.
public enum WatcherName {
    /// Names: 1–64 of `A-Z a-z 0-9 . _ -`, not starting with a dot. Checked
    /// on the decoded name; the raw path may not encode `/` or control
    /// characters at all.
    public static func isValid(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5a).contains(byte) || (0x61...0x7a).contains(byte)
                || byte == 0x2e || byte == 0x5f || byte == 0x2d
        }
    }

    /// A secret offered by a client (`Genidd-Watcher-Secret`): 16 to 128
    /// printable ASCII characters, no spaces.
    public static func isValidSecret(_ secret: [UInt8]) -> Bool {
        (16...128).contains(secret.count) && secret.allSatisfy { (0x21...0x7e).contains($0) }
    }
}
