/// One event of a `text/event-stream`, as the HTML standard's parsing rules
/// define it.
public struct ServerSentEvent: Sendable, Equatable {
    /// The `event:` field; `message` when the block has none.
    public var type: String
    /// The `id:` field of this block, if it had one.
    public var id: String?
    /// The `data:` lines joined with newlines.
    public var data: String

    public init(type: String = "message", id: String? = nil, data: String) {
        self.type = type
        self.id = id
        self.data = data
    }
}
