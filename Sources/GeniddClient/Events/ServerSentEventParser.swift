/// Turns the bytes of a `text/event-stream` into events, in whatever pieces
/// they arrive: lines end with LF, CR or CRLF (a CR at the end of one piece
/// and an LF at the start of the next are one line end), `:` starts a comment,
/// a blank line dispatches the event if it has data.
public struct ServerSentEventParser: Sendable {
    /// The last `id:` seen, as the standard's "last event ID buffer" (it persists across events).
    public private(set) var lastEventID: String?
    /// The last `retry:` value in milliseconds.
    public private(set) var retryMilliseconds: Int?
    /// Comment lines seen (genidd's `: keepalive`).
    public private(set) var comments = 0

    /// A longer line is refused: genidd's lines are a few hundred bytes.
    public static let maximumLineBytes = 64 * 1024

    private var line: [UInt8] = []
    private var afterCarriageReturn = false
    private var eventType = ""
    private var eventID: String?
    private var data = ""
    private var hasData = false

    public init() {}

    /// Consumes bytes; returns the events they complete. Throws
    /// ``EventStreamError`` for a line over ``maximumLineBytes``.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(EventStreamError) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            switch byte {
            case 0x0a where afterCarriageReturn:
                afterCarriageReturn = false
            case 0x0a, 0x0d:
                afterCarriageReturn = byte == 0x0d
                if let event = endLine() {
                    events.append(event)
                }
            default:
                afterCarriageReturn = false
                guard line.count < Self.maximumLineBytes else { throw EventStreamError.lineTooLong }
                line.append(byte)
            }
        }
        return events
    }

    /// Handles one complete line; returns an event when the line was blank.
    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            return dispatch()
        }
        if line.first == UInt8(ascii: ":") {
            comments += 1
            return nil
        }
        let field: String
        var value: Substring
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = String(decoding: line[..<colon], as: UTF8.self)
            let text = String(decoding: line[(colon + 1)...], as: UTF8.self)
            value = text.hasPrefix(" ") ? text.dropFirst() : Substring(text)
        } else {
            field = String(decoding: line, as: UTF8.self)
            value = ""
        }
        switch field {
        case "event":
            eventType = String(value)
        case "data":
            data += (hasData ? "\n" : "") + value
            hasData = true
        case "id" where !value.contains("\0"):
            eventID = String(value)
            lastEventID = eventID
        case "retry" where !value.isEmpty && value.allSatisfy({ $0.isASCII && $0.isNumber }):
            retryMilliseconds = Int(value)
        default:
            break
        }
        return nil
    }

    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            eventType = ""
            eventID = nil
            data = ""
            hasData = false
        }
        guard hasData else { return nil }
        return ServerSentEvent(type: eventType.isEmpty ? "message" : eventType, id: eventID, data: data)
    }
}

/// An event stream that cannot be parsed.
public enum EventStreamError: Error, CustomStringConvertible, Sendable {
    case lineTooLong

    public var description: String {
        "a line of the event stream is longer than \(ServerSentEventParser.maximumLineBytes) bytes"
    }
}
