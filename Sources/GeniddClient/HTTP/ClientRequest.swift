/// One request to genidd, as ``CurlSession`` sends it.
struct ClientRequest {
    /// Path and query under the daemon's base URL, for example `/v1/generation?wait=3&timeout=30`.
    var path: String
    /// Header lines, `Name: value`.
    var headers: [String] = []
    /// A body makes it a POST; nil is a GET.
    var body: [UInt8]?
    /// Limit for the whole transfer; nil for none (streams).
    var timeoutMilliseconds: Int?
    /// Fail with ``ClientError/stalled(target:milliseconds:)`` when nothing
    /// arrives for this long (streams, which get keepalives).
    var stallMilliseconds: Int?
}

/// A complete response. For a streamed 2xx response the body went to the
/// ``ResponseReceiver`` instead and is empty here.
struct ClientResponse {
    var status: Int
    var contentType: String?
    var body: [UInt8]

    /// The media type without parameters, lowercased (`application/json`).
    var mediaType: String? {
        guard let contentType else { return nil }
        let type = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? contentType
        return type.trimmingWhitespace().lowercased()
    }
}

/// Takes the body of a streamed response while the transfer runs.
protocol ResponseReceiver: AnyObject {
    /// Body bytes of a 2xx response, from inside libcurl's write callback:
    /// must not block or start a transfer.
    func receive(_ bytes: UnsafeRawBufferPointer)

    /// Called by the transfer loop after each round of I/O, outside libcurl's
    /// callbacks: may block (run a command) and use other sessions. Returns
    /// false to end the transfer.
    func deliver() throws -> Bool
}
