#if canImport(Glibc)
    import Glibc
#endif

/// A failed system call: which call, on which file or device, and the errno.
///
/// Every syscall in genidd goes through ``retryingEINTR(_:path:_:)`` or
/// ``SystemError/check(_:_:path:)`` so that failures name what they touched.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The C function that failed, for example `open`.
    let call: String
    /// The path or device involved, when there is one.
    public let path: String?
    /// The errno value.
    public let code: Int32

    public init(_ call: String, path: String? = nil, code: Int32 = errno) {
        self.call = call
        self.path = path
        self.code = code
    }

    /// The errno message, for example "No such file or directory".
    public var message: String { String(cString: strerror(code)) }

    public var description: String {
        if let path {
            return "\(path): \(call): \(message)"
        }
        return "\(call): \(message)"
    }

    /// Throws for a negative return value of a call that reports errors in errno.
    @discardableResult
    public static func check<T: BinaryInteger>(_ result: T, _ call: String, path: String? = nil) throws -> T {
        if result < 0 {
            throw SystemError(call, path: path)
        }
        return result
    }
}

/// Runs a syscall, retrying while it fails with `EINTR`, and throws on other errors.
@discardableResult
public func retryingEINTR<T: BinaryInteger>(
    _ call: String,
    path: String? = nil,
    _ body: () -> T
) throws -> T {
    while true {
        let result = body()
        if result >= 0 {
            return result
        }
        let code = errno
        if code == EINTR {
            continue
        }
        throw SystemError(call, path: path, code: code)
    }
}
