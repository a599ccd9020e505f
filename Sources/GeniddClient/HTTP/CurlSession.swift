import CCurl
import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// libcurl behind one small type (this is the only file that imports it).
///
/// A session owns one easy handle, reused for every request so that
/// keep-alive connections are reused too, and drives it with a multi handle
/// and `curl_multi_poll`, so that a transfer also wakes for a stop signal and
/// notices a stream that went silent. One transfer at a time, on one thread.
final class CurlSession {
    private let multi: UnsafeMutableRawPointer
    private let easy: UnsafeMutableRawPointer
    /// libcurl's CURLOPT_ERRORBUFFER: a detailed message for the last failure.
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let address: DaemonAddress
    private let signals: StopSignals?
    private let userAgent: String

    /// Largest response body kept in memory (genidd's answers are tiny).
    static let maximumBodyBytes = 1 << 20

    /// `curl_global_init`, once per process, before the first handle.
    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    init(address: DaemonAddress, signals: StopSignals?, userAgent: String) throws {
        guard Self.initialized, let multi = curl_multi_init() else {
            throw ClientError.unreachable(target: address.description, reason: "libcurl could not be initialized")
        }
        guard let easy = curl_easy_init() else {
            curl_multi_cleanup(multi)
            throw ClientError.unreachable(target: address.description, reason: "libcurl could not be initialized")
        }
        self.multi = multi
        self.easy = easy
        self.address = address
        self.signals = signals
        self.userAgent = userAgent
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    }

    deinit {
        curl_multi_cleanup(multi)
        curl_easy_cleanup(easy)
        errorBuffer.deallocate()
    }

    /// Runs one request to completion. A `receiver` gets the body of a
    /// successful (2xx) response as it arrives and is called between polls;
    /// other responses are collected and returned. Throws ``ClientError``.
    func perform(_ request: ClientRequest, receiver: (any ResponseReceiver)? = nil) throws -> ClientResponse {
        curl_easy_reset(easy)
        errorBuffer[0] = 0
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        for header in request.headers {
            guard let appended = curl_slist_append(headers, header) else {
                throw ClientError.unreachable(target: address.description, reason: "out of memory")
            }
            headers = appended
        }
        let transfer = Transfer(easy: easy, receiver: receiver)
        try configure(request, headers: headers, transfer: transfer)
        return try withExtendedLifetime(transfer) { try run(transfer, stallMilliseconds: request.stallMilliseconds) }
    }

    private func configure(
        _ request: ClientRequest, headers: UnsafeMutablePointer<curl_slist>?, transfer: Transfer
    ) throws {
        try set(CURLOPT_URL, string: address.url(for: request.path))
        if let socket = address.unixSocketPath {
            try set(CURLOPT_UNIX_SOCKET_PATH, string: socket)
        }
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_CONNECTTIMEOUT_MS, 5000)
        try set(CURLOPT_TIMEOUT_MS, request.timeoutMilliseconds ?? 0)
        try set(CURLOPT_USERAGENT, string: userAgent)
        try check(ccurl_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "CURLOPT_ERRORBUFFER")
        try check(ccurl_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, headers), "CURLOPT_HTTPHEADER")
        try check(ccurl_easy_setopt_write_callback(easy, CURLOPT_WRITEFUNCTION, writeCallback), "CURLOPT_WRITEFUNCTION")
        let context = Unmanaged.passUnretained(transfer).toOpaque()
        try check(ccurl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context), "CURLOPT_WRITEDATA")
        if transfer.receiver == nil {
            try check(
                ccurl_easy_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(Self.maximumBodyBytes)),
                "CURLOPT_MAXFILESIZE_LARGE")
        }
        if let body = request.body {
            try set(CURLOPT_POST, 1)
            try check(
                ccurl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)),
                "CURLOPT_POSTFIELDSIZE_LARGE")
            let copied = body.withUnsafeBytes {
                ccurl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, $0.baseAddress)
            }
            try check(copied, "CURLOPT_COPYPOSTFIELDS")
        } else {
            try set(CURLOPT_HTTPGET, 1)
        }
    }

    /// Drives the transfer: `curl_multi_perform`, hand what arrived to the
    /// receiver, then `curl_multi_poll` on libcurl's sockets and the signal descriptor.
    private func run(_ transfer: Transfer, stallMilliseconds: Int?) throws -> ClientResponse {
        let added = curl_multi_add_handle(multi, easy)
        guard added == CURLM_OK else { throw multiFailure(added) }
        defer { curl_multi_remove_handle(multi, easy) }
        while true {
            var running: Int32 = 0
            let performed = curl_multi_perform(multi, &running)
            guard performed == CURLM_OK else { throw multiFailure(performed) }
            let result = finishedResult()
            if let receiver = transfer.receiver, transfer.isSuccess {
                let before = MonotonicInstant.now
                let proceed = try receiver.deliver()
                // Time spent handling events is not time the stream was silent.
                transfer.lastActivity = transfer.lastActivity.advanced(by: MonotonicInstant.now.duration(since: before))
                if !proceed {
                    return transfer.response
                }
            }
            if let result {
                guard result == CURLE_OK else { throw failure(result, transfer) }
                return transfer.response
            }
            if running == 0 {
                return transfer.response
            }
            var timeout: Int32 = 60_000
            if let stallMilliseconds {
                let idle = MonotonicInstant.now.duration(since: transfer.lastActivity).milliseconds
                if idle >= stallMilliseconds {
                    throw ClientError.stalled(target: address.description, milliseconds: stallMilliseconds)
                }
                timeout = Int32(min(stallMilliseconds - idle + 1, 60_000))
            }
            let polled: CURLMcode
            if let signals {
                var extra = curl_waitfd(fd: signals.descriptor, events: Int16(CURL_WAIT_POLLIN), revents: 0)
                polled = curl_multi_poll(multi, &extra, 1, timeout, nil)
            } else {
                polled = curl_multi_poll(multi, nil, 0, timeout, nil)
            }
            guard polled == CURLM_OK else { throw multiFailure(polled) }
            if let signals, signals.check() {
                throw ClientError.interrupted
            }
        }
    }

    /// The result of the finished transfer, if it finished.
    private func finishedResult() -> CURLcode? {
        var result: CURLcode?
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi, &queued) {
            if message.pointee.msg == CURLMSG_DONE {
                result = ccurl_message_result(message)
            }
        }
        return result
    }

    private func failure(_ code: CURLcode, _ transfer: Transfer) -> ClientError {
        if code == CURLE_FILESIZE_EXCEEDED || (code == CURLE_WRITE_ERROR && transfer.overflowed) {
            return .badResponse(
                target: address.description, reason: "the response is larger than \(Self.maximumBodyBytes) bytes")
        }
        // The errno of a failed connect says more than libcurl's messages
        // ("Connection refused", "No such file or directory" for a socket path).
        var systemError = 0
        if ccurl_easy_getinfo_long(easy, CURLINFO_OS_ERRNO, &systemError) == CURLE_OK, systemError != 0 {
            return .unreachable(
                target: address.description,
                reason: "\(String(cString: curl_easy_strerror(code))): \(String(cString: strerror(Int32(systemError))))"
            )
        }
        let detail = String(cString: errorBuffer)
        let reason = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        return .unreachable(target: address.description, reason: reason)
    }

    private func multiFailure(_ code: CURLMcode) -> ClientError {
        .unreachable(target: address.description, reason: "libcurl: \(String(cString: curl_multi_strerror(code)))")
    }

    private func set(_ option: CURLoption, _ value: Int) throws {
        try check(ccurl_easy_setopt_long(easy, option, value), "option \(option.rawValue)")
    }

    private func set(_ option: CURLoption, string: String) throws {
        try check(ccurl_easy_setopt_pointer(easy, option, string), "option \(option.rawValue)")
    }

    private func check(_ code: CURLcode, _ what: String) throws {
        guard code == CURLE_OK else {
            let message = String(cString: curl_easy_strerror(code))
            throw ClientError.unreachable(target: address.description, reason: "libcurl refused \(what): \(message)")
        }
    }
}

/// What one transfer received so far. libcurl's write callback reaches it
/// through CURLOPT_WRITEDATA; `perform` keeps it alive for the transfer.
private final class Transfer {
    let easy: UnsafeMutableRawPointer
    let receiver: (any ResponseReceiver)?
    var status = 0
    var contentType: String?
    var body: [UInt8] = []
    var overflowed = false
    /// Monotonic time of the last byte received (or of the start).
    var lastActivity = MonotonicInstant.now

    init(easy: UnsafeMutableRawPointer, receiver: (any ResponseReceiver)?) {
        self.easy = easy
        self.receiver = receiver
    }

    var isSuccess: Bool { (200..<300).contains(status) }

    var response: ClientResponse {
        if status == 0 {
            readHead()
        }
        return ClientResponse(status: status, contentType: contentType, body: body)
    }

    /// Body bytes, from the write callback. Returns false to fail the transfer.
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        lastActivity = MonotonicInstant.now
        if status == 0 {
            readHead()
        }
        if isSuccess, let receiver {
            receiver.receive(bytes)
            return true
        }
        guard body.count + bytes.count <= CurlSession.maximumBodyBytes else {
            overflowed = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    /// The status and `Content-Type` (libcurl owns the string: copy it).
    private func readHead() {
        var code = 0
        if ccurl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK {
            status = code
        }
        var type: UnsafePointer<CChar>?
        if ccurl_easy_getinfo_string(easy, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK, let type {
            contentType = String(cString: type)
        }
    }
}

/// CURLOPT_WRITEFUNCTION: hands body bytes to the transfer; returning less
/// than it was given makes libcurl fail the transfer with CURLE_WRITE_ERROR.
private let writeCallback: curl_write_callback = { pointer, size, count, context in
    let length = size * count
    guard let context else { return 0 }
    let transfer = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    return transfer.write(UnsafeRawBufferPointer(start: pointer, count: length)) ? length : 0
}

/// `--url` checked by libcurl's own URL parser (`curl_url`), so that genidd
/// accepts exactly what the transfers will use.
enum CurlURLParser {
    struct Parts {
        var scheme: String
        var host: String
        var port: String?
        var path: String
        var hasQuery: Bool
        var hasFragment: Bool
        var hasCredentials: Bool
    }

    /// The parts of an absolute URL, or the parser's reason for refusing it.
    static func parse(_ text: String) -> Result<Parts, ConfigurationError> {
        guard let handle = curl_url() else { return .failure(ConfigurationError("out of memory")) }
        defer { curl_url_cleanup(handle) }
        let code = curl_url_set(handle, CURLUPART_URL, text, 0)
        guard code == CURLUE_OK else {
            return .failure(ConfigurationError(String(cString: curl_url_strerror(code))))
        }
        func part(_ which: CURLUPart) -> String? {
            var value: UnsafeMutablePointer<CChar>?
            guard curl_url_get(handle, which, &value, 0) == CURLUE_OK, let value else { return nil }
            defer { curl_free(value) }
            return String(cString: value)
        }
        return .success(
            Parts(
                scheme: part(CURLUPART_SCHEME) ?? "", host: part(CURLUPART_HOST) ?? "", port: part(CURLUPART_PORT),
                path: part(CURLUPART_PATH) ?? "/", hasQuery: part(CURLUPART_QUERY) != nil,
                hasFragment: part(CURLUPART_FRAGMENT) != nil,
                hasCredentials: part(CURLUPART_USER) != nil || part(CURLUPART_PASSWORD) != nil))
    }
}
