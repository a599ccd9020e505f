import CMicroHTTPD
import GeniddGeneration
import GeniddSystem
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

// The only file that touches libmicrohttpd. It turns MHD's C callbacks into
// calls on an `HTTPRequestHandling` and wraps connections and responses in
// small Swift types; everything above it is plain Swift.

/// A libmicrohttpd connection. Valid from the first access-handler call until
/// the request-completed callback; a suspended connection stays valid until resumed.
struct HTTPConnection: @unchecked Sendable, Hashable {
    // Unchecked: an opaque handle; libmicrohttpd serializes all work on a
    // connection, and suspend/resume are documented as callable from any thread.
    let pointer: OpaquePointer

    /// A request header, or nil.
    func header(_ name: String) -> String? {
        MHD_lookup_connection_value(pointer, .HEADER_KIND, name).map { String(cString: $0) }
    }

    /// A decoded query argument, or nil (also for a key given without `=`).
    func queryArgument(_ name: String) -> String? {
        MHD_lookup_connection_value(pointer, .GET_ARGUMENT_KIND, name).map { String(cString: $0) }
    }

    /// How many times the query argument `name` is given (to reject duplicates).
    func queryArgumentCount(_ name: String) -> Int {
        values(of: .GET_ARGUMENT_KIND, named: name).count
    }

    /// Every value of the request header `name`, in order (to reject repeated
    /// framing headers such as two `Content-Length`s).
    func headerValues(_ name: String) -> [String] {
        values(of: .HEADER_KIND, named: name)
    }

    private func values(of kind: MHD_ValueKind, named name: String) -> [String] {
        final class Collector {
            let name: String
            /// Header names compare without case; query argument names with it.
            let ignoringCase: Bool
            var values: [String] = []
            init(_ name: String, ignoringCase: Bool) {
                self.name = ignoringCase ? name.lowercased() : name
                self.ignoringCase = ignoringCase
            }
        }
        let collector = Collector(name, ignoringCase: kind == .HEADER_KIND)
        withExtendedLifetime(collector) {
            _ = MHD_get_connection_values(
                pointer, kind,
                { context, _, key, value in
                    let collector = Unmanaged<Collector>.fromOpaque(context!).takeUnretainedValue()
                    if let key,
                        (collector.ignoringCase ? String(cString: key).lowercased() : String(cString: key))
                            == collector.name
                    {
                        collector.values.append(value.map { String(cString: $0) } ?? "")
                    }
                    return MHD_Result.YES
                }, Unmanaged.passUnretained(collector).toOpaque())
        }
        return collector.values
    }

    /// Stops processing the connection until `resume()`; call from its own thread.
    func suspend() {
        MHD_suspend_connection(pointer)
    }

    /// Lets a suspended connection continue; callable from any thread, exactly once per suspend.
    func resume() {
        MHD_resume_connection(pointer)
    }

    /// Queues `response` with `status`. Returns false when libmicrohttpd refused.
    func queue(_ response: HTTPResponse, status: Int) -> Bool {
        MHD_queue_response(pointer, UInt32(status), response.pointer) == MHD_Result.YES
    }

    /// The connection's socket, for `SO_PEERCRED` on Unix sockets.
    var socketDescriptor: Int32 {
        cmhd_connection_fd(pointer)
    }
}

/// A response, reference-counted by libmicrohttpd: genidd drops its own
/// reference when this object is released, while queued copies stay valid.
final class HTTPResponse: @unchecked Sendable {
    // Unchecked: immutable after init (but for ``adding(_:)`` on a streaming
    // response, which belongs to one connection); libmicrohttpd locks the
    // response itself.
    let pointer: OpaquePointer
    /// The body and headers of a fixed response (nil for a streaming one), to
    /// make a copy with more headers: a fixed response may be shared by every
    /// request, so its own headers never change.
    private let fixed: (body: [UInt8], headers: [(String, String)])?

    /// A response with a fixed body (copied) and headers.
    init(body: [UInt8], headers: [(String, String)]) {
        pointer = body.withUnsafeBytes { buffer in
            MHD_create_response_from_buffer(
                buffer.count, UnsafeMutableRawPointer(mutating: buffer.baseAddress), .RESPMEM_MUST_COPY)
        }
        fixed = (body, headers)
        for (name, value) in headers {
            MHD_add_response_header(pointer, name, value)
        }
    }

    /// This response with `headers` added: a copy for a fixed response; the
    /// response itself for a streaming one (made for one connection, not yet queued).
    func adding(_ headers: [(String, String)]) -> HTTPResponse {
        if headers.isEmpty {
            return self
        }
        if let fixed {
            return HTTPResponse(body: fixed.body, headers: fixed.headers + headers)
        }
        for (name, value) in headers {
            MHD_add_response_header(pointer, name, value)
        }
        return self
    }

    /// A streaming response whose bytes come from `producer`, one per connection.
    init(streamingFrom producer: any HTTPStreamProducer, headers: [(String, String)]) {
        fixed = nil
        let context = Unmanaged.passRetained(ProducerBox(producer)).toOpaque()
        pointer = MHD_create_response_from_callback(
            cmhd_size_unknown(), 4096,
            { context, _, buffer, capacity in
                let box = Unmanaged<ProducerBox>.fromOpaque(context!).takeUnretainedValue()
                let destination = UnsafeMutableRawBufferPointer(start: buffer, count: capacity)
                switch box.producer.produce(into: destination) {
                case .bytes(let count):
                    return count
                case .suspended:
                    return 0
                case .end:
                    return cmhd_content_reader_end_of_stream()
                case .abort:
                    return cmhd_content_reader_end_with_error()
                }
            }, context,
            { context in
                let box = Unmanaged<ProducerBox>.fromOpaque(context!).takeRetainedValue()
                box.producer.finished()
            })
        for (name, value) in headers {
            MHD_add_response_header(pointer, name, value)
        }
    }

    deinit {
        MHD_destroy_response(pointer)
    }

    private final class ProducerBox {
        let producer: any HTTPStreamProducer
        init(_ producer: any HTTPStreamProducer) { self.producer = producer }
    }
}

/// One libmicrohttpd daemon serving one listening socket with its own epoll
/// worker threads. Suspend/resume is enabled for long-polls and SSE.
final class MicroHTTPDaemon: @unchecked Sendable {
    // Unchecked: `pointer` is set once in init; start, quiesce and stop are
    // called only from the main thread.
    private let pointer: OpaquePointer
    private let context: Unmanaged<DaemonContext>

    final class DaemonContext: @unchecked Sendable {
        // Unchecked: immutable, but for the atomic connection counter.
        let handler: any HTTPRequestHandling
        let listener: ListenerKind
        init(_ handler: any HTTPRequestHandling, _ listener: ListenerKind) {
            self.handler = handler
            self.listener = listener
        }
    }

    /// Ids for connection records, unique across daemons (descriptors are reused).
    private static let nextConnectionID = Atomic<UInt64>(1)

    /// Starts serving `listenDescriptor`, which genidd keeps owning.
    init(
        listenDescriptor: Int32, listener: ListenerKind, settings: MicroHTTPDaemonSettings,
        handler: any HTTPRequestHandling
    ) throws {
        let context = Unmanaged.passRetained(DaemonContext(handler, listener))
        var config = cmhd_daemon_config()
        config.flags =
            UInt32(MHD_USE_EPOLL_INTERNAL_THREAD.rawValue) | UInt32(MHD_ALLOW_SUSPEND_RESUME.rawValue)
            | UInt32(MHD_USE_ITC.rawValue) | UInt32(MHD_USE_TURBO.rawValue)
        config.listen_fd = listenDescriptor
        config.thread_pool_size = UInt32(max(1, settings.threads))
        config.connection_limit = UInt32(settings.connectionLimit)
        config.connection_memory_limit = settings.connectionMemoryLimit
        config.connection_timeout = UInt32(settings.idleTimeoutSeconds)
        let opaque = context.toOpaque()
        config.uri_log_callback = Self.targetHandler
        config.uri_log_context = opaque
        guard
            let daemon = cmhd_start_daemon(
                &config, Self.accessHandler, opaque, Self.completedHandler, opaque, Self.connectionHandler, opaque)
        else {
            context.release()
            throw SystemError("MHD_start_daemon", code: EINVAL)
        }
        pointer = daemon
        self.context = context
    }

    /// Stops accepting new connections (existing ones keep being served).
    func quiesce() {
        _ = MHD_quiesce_daemon(pointer)
    }

    /// Stops the daemon and closes every connection. No connection may be
    /// suspended at this point (libmicrohttpd aborts otherwise).
    func stop() {
        MHD_stop_daemon(pointer)
        context.release()
    }

    /// The request line's target, raw, before libmicrohttpd decodes the path or
    /// parses the query: creates the request's context with what only the raw
    /// form shows. A query over the limits is cut off here (by ending the
    /// string after `?`), because parsing it could exhaust the connection's
    /// memory and leave the request without any answer; the server answers 414.
    private static let targetHandler:
        @convention(c) (
            UnsafeMutableRawPointer?, UnsafePointer<CChar>?, OpaquePointer?
        ) -> UnsafeMutableRawPointer? = { context, uri, connection in
            let daemon = Unmanaged<DaemonContext>.fromOpaque(context!).takeUnretainedValue()
            let request = RequestContext(listener: daemon.listener, connection: connection.flatMap(record(of:)))
            if let uri {
                let length = strlen(uri)
                uri.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
                    request.target = RequestTarget(raw: UnsafeBufferPointer(start: bytes, count: length))
                }
                if request.target.queryTooLarge, let question = strchr(uri, Int32(UInt8(ascii: "?"))) {
                    // libmicrohttpd hands the target as const, but it lives in the
                    // connection's own read buffer, which it parses in place next.
                    UnsafeMutablePointer(mutating: question + 1).pointee = 0
                    request.target.queryDropped = true
                }
            }
            return Unmanaged.passRetained(request).toOpaque()
        }

    private static let accessHandler: MHD_AccessHandlerCallback = {
        context, connection, url, method, version, uploadData, uploadSize, requestContext in
        let daemon = Unmanaged<DaemonContext>.fromOpaque(context!).takeUnretainedValue()
        guard let requestContext, let connection, let uploadSize else { return MHD_Result.NO }
        let request: RequestContext
        if let existing = requestContext.pointee {
            request = Unmanaged<RequestContext>.fromOpaque(existing).takeUnretainedValue()
        } else {
            request = RequestContext(listener: daemon.listener, connection: record(of: connection))
            requestContext.pointee = Unmanaged.passRetained(request).toOpaque()
        }
        if !request.headersSeen {
            // First call: headers only. Queueing now would force "Connection: close",
            // which only errors (answered by `screen`) accept.
            request.headersSeen = true
            request.method = method.map { String(cString: $0) } ?? ""
            request.path = url.map { String(cString: $0) } ?? "/"
            request.version = version.map { String(cString: $0) } ?? ""
            if daemon.handler.screen(request, on: HTTPConnection(pointer: connection)) {
                request.answered = true
            }
            return MHD_Result.YES
        }
        if uploadSize.pointee > 0 {
            request.bodyBytes += uploadSize.pointee
            if request.bodyBytes <= daemon.handler.maximumBodyBytes, let data = uploadData {
                data.withMemoryRebound(to: UInt8.self, capacity: uploadSize.pointee) { bytes in
                    request.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: uploadSize.pointee))
                }
            }
            uploadSize.pointee = 0
            // A chunked body that grows past the limit: stop reading and close.
            return request.bodyBytes > daemon.handler.maximumBodyBytes ? MHD_Result.NO : MHD_Result.YES
        }
        if request.answered {
            return MHD_Result.YES
        }
        request.answered = true
        switch daemon.handler.respond(to: request, on: HTTPConnection(pointer: connection)) {
        case .queued:
            return MHD_Result.YES
        case .parked:
            // Suspended: libmicrohttpd calls again once it is resumed, and the
            // handler answers then.
            request.answered = false
            return MHD_Result.YES
        case .close:
            return MHD_Result.NO
        }
    }

    private static let completedHandler: MHD_RequestCompletedCallback = { context, _, requestContext, _ in
        let daemon = Unmanaged<DaemonContext>.fromOpaque(context!).takeUnretainedValue()
        guard let requestContext, let existing = requestContext.pointee else { return }
        let request = Unmanaged<RequestContext>.fromOpaque(existing).takeRetainedValue()
        requestContext.pointee = nil
        daemon.handler.requestEnded(request)
    }

    private static let connectionHandler: MHD_NotifyConnectionCallback = { context, connection, socketContext, code in
        let daemon = Unmanaged<DaemonContext>.fromOpaque(context!).takeUnretainedValue()
        guard let connection, let socketContext else { return }
        if code == .CONNECTION_NOTIFY_STARTED {
            let descriptor = cmhd_connection_fd(connection)
            let peer: HTTPPeer
            if daemon.listener == .unix {
                peer =
                    (try? KernelShims.peerCredentials(descriptor)).map { .user(uid: $0.uid, gid: $0.gid) } ?? .unknown
            } else {
                peer = HTTPPeer.address(of: cmhd_connection_peer(connection))
            }
            let record = HTTPConnectionRecord(
                id: nextConnectionID.add(1, ordering: .relaxed).oldValue, descriptor: descriptor,
                listener: daemon.listener, peer: peer)
            socketContext.pointee = Unmanaged.passRetained(record).toOpaque()
            if !daemon.handler.connectionOpened(record) {
                // Refused: libmicrohttpd sees the shut-down socket and closes it.
                shutdown(descriptor, Int32(SHUT_RDWR))
            }
        } else if let stored = socketContext.pointee {
            socketContext.pointee = nil
            daemon.handler.connectionClosed(Unmanaged<HTTPConnectionRecord>.fromOpaque(stored).takeRetainedValue())
        }
    }

    /// The record stored for a connection when it opened.
    private static func record(of connection: OpaquePointer) -> HTTPConnectionRecord? {
        cmhd_connection_socket_context(connection).map {
            Unmanaged<HTTPConnectionRecord>.fromOpaque($0).takeUnretainedValue()
        }
    }
}
