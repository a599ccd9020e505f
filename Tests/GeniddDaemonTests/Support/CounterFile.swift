import Foundation

/// A `file:` source counter in a test's directory.
struct CounterFile {
    let url: URL
    var path: String { url.path }
    var sourceArgument: String { "file:" + url.path }

    init(in directory: URL, name: String = "counter", value: String? = "1") throws {
        url = directory.appendingPathComponent(name)
        if let value { try write(value) }
    }

    /// The counter file at `url`, as it is.
    init(existing url: URL) {
        self.url = url
    }

    /// Rewrites the file in place (truncate + write, as `echo N > file` does).
    func write(_ text: String) throws {
        try Data((text + "\n").utf8).write(to: url)
    }

    /// Replaces the file atomically by rename.
    func replace(_ text: String) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".counter.tmp")
        try Data((text + "\n").utf8).write(to: temporary)
        _ = rename(temporary.path, url.path)
    }
}
