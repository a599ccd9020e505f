#if canImport(Glibc)
    import Glibc
#endif

/// A file descriptor closed when its owner lets go of it: sources hold one
/// as an optional and close it by setting it to nil.
public final class OwnedDescriptor {
    public let raw: Int32

    /// Takes ownership of `raw` (which must be valid).
    public init(_ raw: Int32) {
        self.raw = raw
    }

    deinit {
        close(raw)
    }
}
