import GeniddGeneration
import GeniddSystem

/// A `--listen HOST:PORT` value: an IPv4 address, a bracketed IPv6 address or
/// `localhost`, and a port (0 picks a free one).
struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    var host: String
    var port: UInt16

    init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:8080`, `[::1]:8080` or `localhost:8080`.
    init(parsing text: String) throws {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ListenAddressError(text: text, problem: "expected [IPv6]:PORT")
            }
            hostPart = text[text.index(after: text.startIndex)..<close]
            portPart = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ListenAddressError(text: text, problem: "expected HOST:PORT, for example 127.0.0.1:8080")
            }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
        }
        guard !hostPart.isEmpty else {
            throw ListenAddressError(text: text, problem: "the host is missing (use 0.0.0.0 for all IPv4 addresses)")
        }
        guard !portPart.isEmpty, portPart.allSatisfy(\.isNumber), let port = UInt16(portPart) else {
            throw ListenAddressError(text: text, problem: "the port must be a number from 0 to 65535")
        }
        host = hostPart == "localhost" ? "127.0.0.1" : String(hostPart)
        self.port = port
    }

    var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A `--listen` value genidd cannot use.
struct ListenAddressError: Error, CustomStringConvertible, Sendable {
    let text: String
    let problem: String
    var description: String { "--listen '\(text)': \(problem)" }
}
