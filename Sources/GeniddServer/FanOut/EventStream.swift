import GeniddGeneration
import GeniddSystem

/// One Server-Sent Events subscriber: the bytes not yet sent to it and
/// whether its connection is suspended. All fields are guarded by the
/// ``GenerationHub`` lock; libmicrohttpd pulls bytes through ``produce(into:)``.
final class EventStream: HTTPStreamProducer, @unchecked Sendable {
    // Unchecked: mutable fields are only touched under the hub's lock.
    let connection: HTTPConnection
    private let hub: GenerationHub
    /// Bytes to send, front first. Chunks share storage with the published
    /// event, so enqueuing one event for 10,000 subscribers copies nothing.
    private var head: [UInt8]?
    private var rest: [[UInt8]] = []
    /// Bytes of `head` already sent.
    private var sent = 0
    private var queuedBytes = 0
    /// The connection is suspended waiting for bytes.
    var parked = false
    /// The last change is queued but not yet taken by libmicrohttpd.
    var owesDelivery = false
    /// End the stream once everything queued is sent.
    var closing = false
    /// The client hung up: close the connection at the next chance.
    var peerGone = false
    /// The stream's hang-up watch token in the hub (0: not watched).
    var hangupToken: UInt64 = 0

    /// The watcher name the subscriber gave (`?watcher=NAME`), if any.
    let watcher: String?

    init(connection: HTTPConnection, hub: GenerationHub, watcher: String?) {
        self.connection = connection
        self.hub = hub
        self.watcher = watcher
    }

    /// Queues bytes to send. A subscriber that stopped reading is closed once
    /// its backlog passes ``GenerationHub/backlogLimit``; it reconnects with
    /// `Last-Event-ID` and gets the current state, so nothing is lost silently.
    func enqueue(_ bytes: [UInt8]) {
        if queuedBytes + bytes.count > GenerationHub.backlogLimit {
            closing = true
            return
        }
        queuedBytes += bytes.count
        if head == nil {
            head = bytes
        } else {
            rest.append(bytes)
        }
    }

    /// True while bytes wait to be written to the socket.
    var hasQueuedBytes: Bool { queuedBytes > 0 }

    /// Copies queued bytes into `buffer`; returns how many (0 when nothing is queued).
    func take(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var written = 0
        while written < buffer.count, let chunk = head {
            let count = min(chunk.count - sent, buffer.count - written)
            chunk.withUnsafeBytes { source in
                (buffer.baseAddress! + written).copyMemory(from: source.baseAddress! + sent, byteCount: count)
            }
            written += count
            sent += count
            if sent == chunk.count {
                sent = 0
                head = rest.isEmpty ? nil : rest.removeFirst()
            }
        }
        queuedBytes -= written
        return written
    }

    func produce(into buffer: UnsafeMutableRawBufferPointer) -> StreamChunk {
        hub.produce(for: self, into: buffer)
    }

    func finished() {
        hub.removeStream(self)
    }
}
