/// One Server-Sent Events subscriber: the bytes not yet sent to it and
/// whether its connection is suspended. All fields are guarded by the
/// ``GenerationHub`` lock; libmicrohttpd pulls bytes through ``produce(into:)``.
final class EventStream: HTTPStreamProducer, @unchecked Sendable {
    // Unchecked: mutable fields are only touched under the hub's lock.
    let connection: HTTPConnection
    private let hub: GenerationHub
    private var pending: [UInt8] = []
    private var sent = 0
    /// The connection is suspended waiting for bytes.
    var parked = false
    /// End the stream once `pending` is flushed.
    var closing = false

    init(connection: HTTPConnection, hub: GenerationHub) {
        self.connection = connection
        self.hub = hub
    }

    /// Appends bytes to send. A subscriber that stopped reading is closed once
    /// its backlog passes ``GenerationHub/backlogLimit``; it reconnects with
    /// `Last-Event-ID` and gets the current state, so nothing is lost silently.
    func enqueue(_ bytes: [UInt8]) {
        if pending.count - sent + bytes.count > GenerationHub.backlogLimit {
            closing = true
            return
        }
        pending.append(contentsOf: bytes)
    }

    /// Copies unsent bytes into `buffer`; returns how many.
    func take(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(pending.count - sent, buffer.count)
        guard count > 0 else { return 0 }
        pending.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + sent, byteCount: count)
        }
        sent += count
        if sent == pending.count {
            // Idle subscribers keep no buffer.
            pending = []
            sent = 0
        }
        return count
    }

    func produce(into buffer: UnsafeMutableRawBufferPointer) -> StreamChunk {
        hub.produce(for: self, into: buffer)
    }

    func finished() {
        hub.removeStream(self)
    }
}
