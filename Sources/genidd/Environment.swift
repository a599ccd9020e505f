import ArgumentParser

#if canImport(Glibc)
    import Glibc
#endif

/// `GENIDD_*` environment variables, the fallback for every `serve` option.
struct Environment {
    /// The value of `GENIDD_<name>`, or nil when unset or empty.
    subscript(name: String) -> String? {
        guard let value = getenv("GENIDD_" + name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    /// A comma-separated list (empty when unset).
    func list(_ name: String) -> [String] {
        self[name]?.split(separator: ",").map(String.init) ?? []
    }

    /// True for `1`, `true` or `yes`.
    func flag(_ name: String) -> Bool {
        guard let value = self[name]?.lowercased() else { return false }
        return ["1", "true", "yes"].contains(value)
    }

    /// An integer variable; throws naming the variable when it is not one.
    func integer(_ name: String, flag: String) throws -> Int? {
        guard let text = self[name] else { return nil }
        guard let value = Int(text) else {
            throw ValidationError("GENIDD_\(name) (\(flag)) must be an integer, got '\(text)'")
        }
        return value
    }
}
