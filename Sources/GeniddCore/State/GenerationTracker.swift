import Logging

/// Decides when a source's readings are a change, numbers the changes (`seq`),
/// persists them, and publishes each new state to the ``GenerationHub``.
///
/// The rule is "when in doubt, report a change": a new generation, a source
/// that doubts (lost records), a source that recovers from a failure, or a
/// different source than before the restart all produce a new `seq`.
public final class GenerationTracker: @unchecked Sendable {
    // Unchecked: driven only by the source thread (and by the main thread
    // before that thread starts).
    private let store: StateStore
    private let hub: GenerationHub
    private let hasher: UUIDHasher?
    private let exporter: GenerationExporter?
    private let metrics: DaemonMetrics?
    private let logger: Logger
    private let bootID: String
    private var state: GenerationState
    private var cursor: String?
    private var failedSinceLastReading = false

    public init(
        store: StateStore, hub: GenerationHub, hasher: UUIDHasher?, exporter: GenerationExporter? = nil,
        metrics: DaemonMetrics? = nil, sourceName: String, logger: Logger
    ) {
        self.metrics = metrics
        self.store = store
        self.hub = hub
        self.hasher = hasher
        self.exporter = exporter
        self.logger = logger
        bootID = StateStore.currentBootID()
        let saved = store.load { problem in logger.warning("ignoring saved state: \(problem)") }
        if let saved, saved.bootID == bootID {
            state = GenerationState(
                generation: saved.generation, seq: saved.seq, uuidHash: saved.uuidHash, source: saved.source,
                changedAtMilliseconds: saved.changedAtMilliseconds, instance: saved.instance, stale: true,
                staleReason: "waiting for the first reading from \(sourceName)")
            cursor = saved.cursor
            logger.info(
                "restored state",
                metadata: ["seq": "\(saved.seq)", "generation": "\(saved.generation)", "source": "\(saved.source)"])
        } else {
            state = GenerationState(
                generation: 0, seq: 0, uuidHash: nil, source: sourceName,
                changedAtMilliseconds: MonotonicClock.wallMilliseconds(), instance: RandomBytes.hex(count: 8),
                stale: true, staleReason: "waiting for the first reading from \(sourceName)")
        }
        exporter?.export(seq: state.seq)
        hub.publish(state)
    }

    /// The current state (source thread only).
    public var current: GenerationState { state }

    /// Where `source` should resume, when the saved state came from the same source.
    public func checkpoint(for source: any GenerationSource) -> SourceCheckpoint? {
        guard state.seq > 0, state.source == source.name else { return nil }
        return SourceCheckpoint(generation: state.generation, cursor: cursor)
    }

    /// Applies one event from `source`. Returns true when it published a new `seq`.
    @discardableResult
    public func handle(_ event: SourceEvent, from source: any GenerationSource) -> Bool {
        switch event {
        case .reading(let reading):
            return apply(reading, from: source)
        case .failure(let reason):
            sourceFailed(reason)
            return false
        case .clockDisruption(let marker):
            logger.notice("clock disruption (live migration?)", metadata: ["disruption_marker": "\(marker)"])
            hub.publishClockDisruption(marker: marker, atMilliseconds: MonotonicClock.wallMilliseconds())
            return false
        }
    }

    /// Waits (at most a second) until the last change reached every SSE subscriber's socket.
    public func awaitDelivery() {
        if !hub.waitUntilDelivered(timeoutMilliseconds: 1000) {
            logger.warning("some SSE subscribers had not taken the change after 1 s; acknowledging anyway")
        }
    }

    /// HTTP watchers that have not acknowledged the current `seq`.
    public var outdatedWatchers: Int { hub.outdatedWatcherCount }

    /// Records what the source reports about itself for `/readyz`.
    public func updateStatus(_ status: [(String, JSONValue)]) {
        hub.sourceStatus = status
    }

    /// Marks the state stale: the source failed and the last state is all genidd knows.
    public func sourceFailed(_ reason: String) {
        failedSinceLastReading = true
        guard !state.stale || state.staleReason != reason else { return }
        logger.error("source failing; serving the last state as stale", metadata: ["problem": "\(reason)"])
        metrics?.sourceFailed(Self.classify(reason))
        state.stale = true
        state.staleReason = reason
        hub.publish(state)
    }

    private func apply(_ reading: SourceReading, from source: any GenerationSource) -> Bool {
        var reasons: [String] = []
        if state.seq == 0 {
            reasons.append("first reading")
        } else if state.source != source.name {
            reasons.append("source changed from \(state.source) to \(source.name)")
        } else if reading.generation != state.generation {
            reasons.append("generation \(state.generation) -> \(reading.generation)")
        }
        if let doubt = reading.doubt {
            reasons.append(doubt)
        }
        if failedSinceLastReading {
            reasons.append("the source recovered from a failure, so a change may have been missed")
        }
        failedSinceLastReading = false
        let wasStale = state.stale
        let cursorMoved = reading.cursor != cursor
        cursor = reading.cursor
        state.stale = false
        state.staleReason = nil
        state.source = source.name
        if !reasons.isEmpty {
            state.seq += 1
            state.generation = reading.generation
            state.changedAtMilliseconds = MonotonicClock.wallMilliseconds()
            state.uuidHash = currentUUIDHash()
            logger.notice(
                "generation change reported",
                metadata: [
                    "seq": "\(state.seq)", "generation": "\(state.generation)",
                    "reason": "\(reasons.joined(separator: "; "))",
                ])
        } else if wasStale {
            logger.info("source healthy", metadata: ["source": "\(source.name)", "seq": "\(state.seq)"])
        }
        if !reasons.isEmpty || cursorMoved || wasStale {
            persist()
        }
        if !reasons.isEmpty {
            exporter?.export(seq: state.seq)
        }
        if !reasons.isEmpty || wasStale {
            hub.publish(state)
        }
        return !reasons.isEmpty
    }

    /// Groups a failure message into a bounded metric label.
    static func classify(_ reason: String) -> DaemonMetrics.SourceErrorReason {
        let text = reason.lowercased()
        if text.contains("no such file") || text.contains("disappeared") || text.contains("replaced")
            || text.contains("removed")
        {
            return .missing
        }
        if text.contains("permission") || text.contains("not permitted") { return .permission }
        if text.contains("does not hold") || text.contains("empty") || text.contains("magic") || text.contains("bytes")
            || text.contains("64 bits") || text.contains("version") || text.contains("counter")
        {
            return .malformed
        }
        if text.contains("read") || text.contains("poll") || text.contains("hang-up") || text.contains("error") {
            return .io
        }
        return .other
    }

    private func currentUUIDHash() -> String? {
        guard let hasher else { return nil }
        do {
            return try hasher.hash()
        } catch {
            logger.error("uuid_hash unavailable", metadata: ["problem": "\(error)"])
            return nil
        }
    }

    private func persist() {
        let saved = PersistedState(
            bootID: bootID, instance: state.instance, seq: state.seq, generation: state.generation,
            source: state.source, cursor: cursor, changedAtMilliseconds: state.changedAtMilliseconds,
            uuidHash: state.uuidHash)
        do {
            try store.save(saved)
        } catch {
            logger.error("cannot save state", metadata: ["problem": "\(error)"])
        }
    }
}
