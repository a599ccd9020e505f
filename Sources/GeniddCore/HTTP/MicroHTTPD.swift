import CMicroHTTPD

#if canImport(Glibc)
    import Glibc
#endif

// The only file that touches libmicrohttpd. It turns MHD's C callbacks into
// calls on an `HTTPRequestHandling` and wraps connections and responses in
// small Swift types; everything above it is plain Swift.

/// A libmicrohttpd connection. Valid from the first access-handler call until
/// the request-completed callback; a suspended connection stays valid until resumed.
public struct HTTPConnection: @unchecked Sendable, Hashable {
    // Unchecked: an opaque handle; libmicrohttpd serializes all work on a
    // connection, and suspend/resume are documented as callable from any thread.
    let pointer: OpaquePointer

    /// A request header, or nil.
    public func header(_ name: String) -> String? {
        MHD_lookup_connection_value(pointer, .HEADER_KIND, name).map { String(cString: $0) }
    }

    /// A decoded query argument, or nil (also for a key given without `=`).
    public func queryArgument(_ name: String) -> String? {
        MHD_lookup_connection_value(pointer, .GET_ARGUMENT_KIND, name).map { String(cString: $0) }
    }

    /// Every query argument key, in order (to reject duplicates).
    public func queryArgumentCount(_ name: String) -> Int {
        final class Counter {
            let name: String
            var count = 0
            init(_ name: String) { self.name = name }
        }
        let counter = Counter(name)
        withExtendedLifetime(counter) {
            _ = MHD_get_connection_values(
                pointer, .GET_ARGUMENT_KIND,
                { context, _, key, _ in
                    let counter = Unmanaged<Counter>.fromOpaque(context!).takeUnretainedValue()
                    if let key, String(cString: key) == counter.name {
                        counter.count += 1
                    }
                    return MHD_Result.YES
                }, Unmanaged.passUnretained(counter).toOpaque())
        }
        return counter.count
    }

    /// Stops processing the connection until `resume()`; call from its own thread.
    public func suspend() {
        MHD_suspend_connection(pointer)
    }

    /// Lets a suspended connection continue; callable from any thread, exactly once per suspend.
    public func resume() {
        MHD_resume_connection(pointer)
    }

    /// Queues `response` with `status`. Returns false when libmicrohttpd refused.
    public func queue(_ response: HTTPResponse, status: Int) -> Bool {
        MHD_queue_response(pointer, UInt32(status), response.pointer) == MHD_Result.YES
    }

    /// The connection's socket, for `SO_PEERCRED` on Unix sockets.
    public var socketDescriptor: Int32 {
        cmhd_connection_fd(pointer)
    }
}

/// A response, reference-counted by libmicrohttpd: genidd drops its own
/// reference when this object is released, while queued copies stay valid.
public final class HTTPResponse: @unchecked Sendable {
    // Unchecked: immutable after init; libmicrohttpd locks the response itself.
    let pointer: OpaquePointer

    /// A response with a fixed body (copied) and headers.
    public init(body: [UInt8], headers: [(String, String)]) {
        pointer = body.withUnsafeBytes { buffer in
            MHD_create_response_from_buffer(
                buffer.count, UnsafeMutableRawPointer(mutating: buffer.baseAddress), .RESPMEM_MUST_COPY)
        }
        for (name, value) in headers {
            MHD_add_response_header(pointer, name, value)
        }
    }

    /// A streaming response whose bytes come from `producer`, one per connection.
    public init(streamingFrom producer: any HTTPStreamProducer, headers: [(String, String)]) {
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
public final class MicroHTTPDaemon: @unchecked Sendable {
    // Unchecked: `pointer` is set once in init; start, quiesce and stop are
    // called only from the main thread.
    private let pointer: OpaquePointer
    private let context: Unmanaged<DaemonContext>

    final class DaemonContext: @unchecked Sendable {
        // Unchecked: immutable.
        let handler: any HTTPRequestHandling
        let listener: ListenerKind
        init(_ handler: any HTTPRequestHandling, _ listener: ListenerKind) {
            self.handler = handler
            self.listener = listener
        }
    }

    /// Starts serving `listenDescriptor`, which genidd keeps owning.
    public init(
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
    public func quiesce() {
        _ = MHD_quiesce_daemon(pointer)
    }

    /// Stops the daemon and closes every connection. No connection may be
    /// suspended at this point (libmicrohttpd aborts otherwise).
    public func stop() {
        MHD_stop_daemon(pointer)
        context.release()
    }

    private static let accessHandler: MHD_AccessHandlerCallback = {
        context, connection, url, method, _, uploadData, uploadSize, requestContext in
        let daemon = Unmanaged<DaemonContext>.fromOpaque(context!).takeUnretainedValue()
        guard let requestContext, let connection, let uploadSize else { return MHD_Result.NO }
        guard let existing = requestContext.pointee else {
            // First call: headers only. Queueing now would force "Connection: close".
            let request = RequestContext(
                method: method.map { String(cString: $0) } ?? "",
                path: url.map { String(cString: $0) } ?? "/", listener: daemon.listener)
            requestContext.pointee = Unmanaged.passRetained(request).toOpaque()
            // A declared body over the limit is refused now: libmicrohttpd cannot
            // queue a response once it is reading the body.
            let declared = MHD_lookup_connection_value(connection, .HEADER_KIND, "Content-Length")
                .flatMap { Int(String(cString: $0)) }
            if let declared, declared > daemon.handler.maximumBodyBytes {
                request.bodyBytes = declared
                request.answered = true
                return daemon.handler.respond(to: request, on: HTTPConnection(pointer: connection))
                    ? MHD_Result.YES : MHD_Result.NO
            }
            return MHD_Result.YES
        }
        let request = Unmanaged<RequestContext>.fromOpaque(existing).takeUnretainedValue()
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
        return daemon.handler.respond(to: request, on: HTTPConnection(pointer: connection))
            ? MHD_Result.YES : MHD_Result.NO
    }

    private static let completedHandler: MHD_RequestCompletedCallback = { _, _, requestContext, _ in
        guard let requestContext, let existing = requestContext.pointee else { return }
        Unmanaged<RequestContext>.fromOpaque(existing).release()
        requestContext.pointee = nil
    }

    private static let connectionHandler: MHD_NotifyConnectionCallback = { context, _, _, code in
        let daemon = Unmanaged<DaemonContext>.fromOpaque(context!).takeUnretainedValue()
        if code == .CONNECTION_NOTIFY_STARTED {
            daemon.handler.connectionOpened()
        } else {
            daemon.handler.connectionClosed()
        }
    }
}
