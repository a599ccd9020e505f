/// What follows an event stream: told once the stream is open, then given
/// the events in the order they arrived.
protocol EventStreamHandler: AnyObject {
    /// The daemon accepted the subscription and its first bytes arrived.
    func streamOpened() throws
    /// Events parsed since the last call. Returns false to end the stream.
    func handle(_ events: [ServerSentEvent]) throws -> Bool
}

/// Parses a streamed response as it arrives (inside libcurl's write callback)
/// and hands the events to an ``EventStreamHandler`` between polls, where it
/// may block and make other requests.
final class EventStreamReceiver: ResponseReceiver {
    private let handler: any EventStreamHandler
    private var parser = ServerSentEventParser()
    private var pending: [ServerSentEvent] = []
    private var failure: EventStreamError?
    private var opened = false
    private var announced = false

    init(handler: any EventStreamHandler) {
        self.handler = handler
    }

    func receive(_ bytes: UnsafeRawBufferPointer) {
        opened = true
        guard failure == nil else { return }
        do {
            pending += try parser.feed(bytes)
        } catch {
            failure = error
        }
    }

    func deliver() throws -> Bool {
        if opened && !announced {
            announced = true
            try handler.streamOpened()
        }
        if !pending.isEmpty {
            let events = pending
            pending.removeAll()
            guard try handler.handle(events) else { return false }
        }
        if let failure {
            throw failure
        }
        return true
    }
}
