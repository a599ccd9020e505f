import GeniddGeneration
import GeniddSystem

/// What a streaming response's producer returns each time libmicrohttpd asks for bytes.
enum StreamChunk {
    /// This many bytes were written into the buffer (never 0).
    case bytes(Int)
    /// Nothing to send: the producer suspended the connection and will resume it.
    case suspended
    /// The stream is over.
    case end
    /// The peer is gone: close the connection without ending the stream.
    case abort
}

/// The source of a streaming response's bytes (an SSE subscriber).
protocol HTTPStreamProducer: AnyObject, Sendable {
    /// Called on the connection's worker thread. Must never return `.bytes(0)`;
    /// when it has nothing to send it suspends the connection first and returns `.suspended`.
    func produce(into buffer: UnsafeMutableRawBufferPointer) -> StreamChunk
    /// Called once when libmicrohttpd frees the response (the connection ended).
    func finished()
}
