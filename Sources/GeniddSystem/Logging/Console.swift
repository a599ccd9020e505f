#if canImport(Glibc)
    import Glibc
#endif

/// Standard output and error for both executables and the log: each line
/// leaves in one `write(2)` (continued only after a partial write),
/// unbuffered, so that a reader of a pipe sees it at once and lines from a
/// command run by `watch --exec` never split ours.
public enum Console {
    /// Writes `line` and a newline to standard output.
    public static func out(_ line: String) {
        write(line + "\n", to: STDOUT_FILENO)
    }

    /// Writes `line` and a newline to standard error.
    public static func error(_ line: String) {
        write(line + "\n", to: STDERR_FILENO)
    }

    /// Writes `text` as it is (no newline added) to `descriptor`.
    public static func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeMutableBytes {
                Glibc.write(descriptor, $0.baseAddress! + written, $0.count - written)
            }
            if count < 0 && errno == EINTR {
                continue
            }
            guard count > 0 else { return }
            written += count
        }
    }
}
