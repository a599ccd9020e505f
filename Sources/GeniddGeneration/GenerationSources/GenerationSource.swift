import GeniddSystem

/// One observation of a source's counter.
public struct SourceReading: Sendable, Equatable {
    /// The source's counter.
    var generation: UInt64
    /// The source's resume point, persisted with the state (nil when it has none).
    var cursor: String?
    /// Set when the source cannot rule out a missed change (lost kernel log
    /// records, a sequence gap...). genidd then reports a change even if
    /// `generation` looks the same.
    var doubt: String?

    init(generation: UInt64, cursor: String? = nil, doubt: String? = nil) {
        self.generation = generation
        self.cursor = cursor
        self.doubt = doubt
    }
}

/// What a source reports: a reading, or contents it cannot use right now
/// (the watch itself still works, so it keeps going).
public enum SourceEvent: Sendable, Equatable {
    case reading(SourceReading)
    case failure(SourceError)
    /// The VMClock's `disruption_marker` changed (live migration): clocks must
    /// be recalibrated, but no reseed is needed, so `seq` does not change.
    case clockDisruption(marker: UInt64)
}

/// Where the last run of a source stopped, handed back when it is reopened
/// (after a failure or a daemon restart within the same boot).
public struct SourceCheckpoint: Sendable, Equatable {
    var generation: UInt64
    var cursor: String?

    init(generation: UInt64, cursor: String?) {
        self.generation = generation
        self.cursor = cursor
    }
}

/// How a source learns about changes, shown in logs and metrics.
public enum ChangeNotification: String, Sendable {
    /// The kernel wakes genidd (`poll()` on a device or `/dev/kmsg`).
    case poll
    /// inotify on a file.
    case inotify
    /// A periodic check of a mapped counter (the ABI offers no notification).
    case interval
}

/// A place the generation comes from. A ``SourceRunner`` drives it on its own
/// thread: `open`, then `check` whenever `descriptor` is readable (or
/// `checkInterval` passed), and `close` before reopening with backoff.
public protocol GenerationSource: AnyObject {
    /// The name clients see in `source`, for example `kmsg` or `file:/run/counter`.
    var name: String { get }
    /// How changes are noticed.
    var notification: ChangeNotification { get }
    /// The descriptor to wait on while open, or -1 for interval-only sources.
    var descriptor: Int32 { get }
    /// Time between checks without an event, or nil to wait for events only.
    var checkInterval: Duration? { get }
    /// Opens the source and returns its current state. Throws when the source
    /// is unusable (genidd retries with backoff, serving the last state as stale).
    func open(resume: SourceCheckpoint?) throws -> SourceEvent
    /// Reads what changed since the last call. Throws when the source broke.
    func check() throws -> [SourceEvent]
    /// Releases descriptors and mappings; `open` may be called again.
    func close()
    /// True when `delivered` does something that must wait for subscribers
    /// (acknowledging to the kernel); other sources are told at once.
    var acknowledgesDelivery: Bool { get }
    /// Called once genidd has written the change in `reading` to its
    /// subscribers (the sysgenid source acknowledges it to the kernel here).
    func delivered(_ reading: SourceReading)
    /// Facts about the source for `/readyz`, such as the kernel's count of
    /// outdated sysgenid watchers. Called on the source thread after each event.
    func status() -> [(String, JSONValue)]
    /// What `POST /v1/generation/bump` uses, or nil when the source cannot be bumped.
    func makeBumper() -> (any GenerationBumper)?
}

extension GenerationSource {
    var acknowledgesDelivery: Bool { false }
    func delivered(_ reading: SourceReading) {}
    func status() -> [(String, JSONValue)] { [] }
    func makeBumper() -> (any GenerationBumper)? { nil }
}
