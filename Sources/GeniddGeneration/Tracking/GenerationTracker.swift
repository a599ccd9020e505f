import GeniddSystem
import Logging

/// Decides when a source's readings are a change, numbers the changes (`seq`),
/// persists them, and publishes each new state to the ``GenerationHub``.
///
/// The rule is "when in doubt, report a change": a new generation, a source
/// that doubts (lost records), a source that recovers from a failure, or a
/// different source than before the restart all produce a new `seq`.
///
/// A new `seq` is saved durably before any subscriber sees it (write-ahead).
/// When it cannot be saved the change is served anyway (a restore is never
/// hidden), `/readyz` turns 503, and the state file is removed so that a
/// restart begins a new instance: a `seq` is never issued twice within one.
public final class GenerationTracker: @unchecked Sendable {
    // Unchecked: driven only by the source thread (and by the main thread
    // before that thread starts).
    private let store: StateStore
    private let publisher: any GenerationPublisher
    private let hasher: UUIDHasher?
    private let exporter: GenerationExporter?
    private let observer: (any GenerationObserver)?
    private let logger: Logger
    private let bootID: String
    private var state: GenerationState
    private var cursor: String?
    private var failedSinceLastReading = false
    /// False until the state holds a reading (restored, or taken by this process).
    private var hasReading: Bool
    /// Why the last save failed, while it keeps failing.
    private var saveProblem: String?
    /// Export files that do not hold the current `seq`, and why.
    private var exportProblems: [String] = []

    /// Loads the saved state, or begins a new instance when there is none or
    /// it is not known good. Throws when the state file is not a regular file.
    public init(
        store: StateStore, publisher: any GenerationPublisher, hasher: UUIDHasher?,
        exporter: GenerationExporter? = nil, observer: (any GenerationObserver)? = nil, sourceName: String,
        logger: Logger
    ) throws {
        self.observer = observer
        self.store = store
        self.publisher = publisher
        self.hasher = hasher
        self.exporter = exporter
        self.logger = logger
        bootID = StateStore.currentBootID()
        let waiting = "waiting for the first reading from \(sourceName)"
        var restored: PersistedState?
        switch try store.load() {
        case .restored(let saved) where saved.bootID == bootID:
            // Trust the saved series only if the directory still takes writes:
            // otherwise the changes this process reports could not be saved.
            do {
                try store.save(saved)
                restored = saved
            } catch {
                saveProblem = "\(error)"
                logger.error(
                    "the state directory does not take writes; starting a new instance",
                    metadata: ["problem": "\(error)"])
            }
        case .restored:
            logger.info("the saved state is from an earlier boot; starting a new instance")
        case .rejected(let problem):
            logger.warning("ignoring the saved state; starting a new instance", metadata: ["problem": "\(problem)"])
        case .absent:
            break
        }
        if let saved = restored {
            state = GenerationState(
                generation: saved.generation, seq: saved.seq, uuidHash: saved.uuidHash, source: saved.source,
                changedAtMilliseconds: saved.changedAtMilliseconds, instance: saved.instance,
                generationID: saved.generationID, stale: true, staleReason: waiting)
            cursor = saved.cursor
            hasReading = true
            logger.info(
                "restored state",
                metadata: [
                    "seq": "\(saved.seq)", "generation": "\(saved.generation)", "source": "\(saved.source)",
                    "generation_id": "\(saved.generationID)",
                ])
        } else {
            // A new series numbers on from what export files already hold, so
            // that a library reading one never sees a value again in this boot.
            state = GenerationState(
                generation: 0, seq: UInt64(exporter?.highestExported ?? 0), uuidHash: nil, source: sourceName,
                changedAtMilliseconds: MonotonicClock.wallMilliseconds(), instance: GenerationState.newInstance(),
                generationID: GenerationState.newGenerationID(), stale: true, staleReason: waiting)
            hasReading = false
        }
        export()
        updateWriteHealth()
        publisher.publish(state)
    }

    /// The current state (source thread only).
    public var current: GenerationState { state }

    /// Where `source` should resume, when the saved state came from the same source.
    func checkpoint(for source: any GenerationSource) -> SourceCheckpoint? {
        guard hasReading, state.source == source.name else { return nil }
        return SourceCheckpoint(generation: state.generation, cursor: cursor)
    }

    /// Applies one event from `source`. Returns true when it published a new `seq`.
    @discardableResult
    func handle(_ event: SourceEvent, from source: any GenerationSource) -> Bool {
        switch event {
        case .reading(let reading):
            return apply(reading, from: source)
        case .failure(let reason):
            sourceFailed(reason)
            return false
        case .clockDisruption(let marker):
            logger.notice("clock disruption (live migration?)", metadata: ["disruption_marker": "\(marker)"])
            publisher.publishClockDisruption(marker: marker, atMilliseconds: MonotonicClock.wallMilliseconds())
            return false
        }
    }

    /// Waits (at most a second) until the last change reached every SSE subscriber's socket.
    func awaitDelivery() {
        if !publisher.waitUntilDelivered(timeout: .seconds(1)) {
            logger.warning("some SSE subscribers had not taken the change after 1 s; acknowledging anyway")
        }
    }

    /// HTTP watchers that have not acknowledged the current `seq`.
    var outdatedWatchers: Int { publisher.outdatedWatcherCount }

    /// Records what the source reports about itself for `/readyz`.
    func updateStatus(_ status: [(String, JSONValue)]) {
        publisher.reportSourceStatus(status)
    }

    /// Marks the state stale: the source failed and the last state is all genidd knows.
    func sourceFailed(_ error: SourceError) {
        failedSinceLastReading = true
        let reason = error.description
        guard !state.stale || state.staleReason != reason else { return }
        logger.error("source failing; serving the last state as stale", metadata: ["problem": "\(reason)"])
        observer?.sourceFailed(error.reason)
        state.stale = true
        state.staleReason = reason
        publisher.publish(state)
    }

    /// True while the state or an export file could not be written; the
    /// source thread then calls ``retryWrites()`` every second.
    var hasFailedWrites: Bool { saveProblem != nil || !exportProblems.isEmpty }

    /// Writes again what could not be written (the state, export files).
    func retryWrites() {
        if saveProblem != nil {
            persist(durable: true)
        }
        if !exportProblems.isEmpty {
            export()
        }
    }

    private func apply(_ reading: SourceReading, from source: any GenerationSource) -> Bool {
        var reasons: [String] = []
        // Starting genidd, or switching sources, is not a restore: such a new
        // seq is reported to clients but not counted as a change in metrics.
        var isRestore = false
        if !hasReading {
            reasons.append("first reading")
        } else if state.source != source.name {
            reasons.append("source changed from \(state.source) to \(source.name)")
        } else if reading.generation != state.generation {
            reasons.append("generation \(state.generation) -> \(reading.generation)")
            isRestore = true
        }
        if let doubt = reading.doubt {
            reasons.append(doubt)
            isRestore = true
        }
        if failedSinceLastReading {
            reasons.append("the source recovered from a failure, so a change may have been missed")
            isRestore = true
        }
        failedSinceLastReading = false
        hasReading = true
        let wasStale = state.stale
        let cursorMoved = reading.cursor != cursor
        cursor = reading.cursor
        state.stale = false
        state.staleReason = nil
        state.source = source.name
        if !reasons.isEmpty {
            if state.seq >= GenerationState.maximumSeq {
                state.instance = GenerationState.newInstance()
                state.seq = 0
                logger.notice(
                    "seq reached its maximum; starting a new instance", metadata: ["instance": "\(state.instance)"])
            }
            state.seq += 1
            state.generation = reading.generation
            state.changedAtMilliseconds = MonotonicClock.wallMilliseconds()
            state.uuidHash = currentUUIDHash()
            // Drawn now, after the kernel reseeded on the change: clones that
            // each saw it draw different ids, clones that saw nothing keep one.
            state.generationID = GenerationState.newGenerationID()
            logger.notice(
                "generation change reported",
                metadata: [
                    "seq": "\(state.seq)", "generation": "\(state.generation)",
                    "generation_id": "\(state.generationID)", "reason": "\(reasons.joined(separator: "; "))",
                ])
        } else if wasStale {
            logger.info("source healthy", metadata: ["source": "\(source.name)", "seq": "\(state.seq)"])
        }
        // Write-ahead: a new seq is on disk before any subscriber sees it. A
        // moved cursor alone need not be durable: losing it only replays records.
        if !reasons.isEmpty || cursorMoved || wasStale {
            persist(durable: !reasons.isEmpty)
        }
        if !reasons.isEmpty {
            export()
            if isRestore {
                observer?.changeReported()
            }
        }
        if !reasons.isEmpty || wasStale {
            publisher.publish(state)
        }
        return !reasons.isEmpty
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

    private func persist(durable: Bool) {
        let saved = PersistedState(
            bootID: bootID, instance: state.instance, seq: state.seq, generation: state.generation,
            source: state.source, cursor: cursor, changedAtMilliseconds: state.changedAtMilliseconds,
            uuidHash: state.uuidHash, generationID: state.generationID)
        do {
            try store.save(saved, durable: durable)
            if saveProblem != nil {
                logger.notice("state saved again", metadata: ["seq": "\(state.seq)"])
                saveProblem = nil
                updateWriteHealth()
            }
        } catch {
            observer?.stateSaveFailed()
            if saveProblem == nil {
                logger.error(
                    """
                    cannot save state; serving the change anyway (/readyz is 503 until a save succeeds, \
                    and a restart begins a new instance)
                    """,
                    metadata: ["problem": "\(error)", "seq": "\(state.seq)"])
            }
            saveProblem = "\(error)"
            if durable {
                do {
                    try store.invalidate()
                } catch {
                    logger.critical(
                        "cannot remove the outdated state file either; a restart may resume an older seq",
                        metadata: ["problem": "\(error)"])
                }
            }
            updateWriteHealth()
        }
    }

    /// Writes the current `seq` to every export file and records what failed.
    private func export() {
        guard let exporter, !exporter.isEmpty else { return }
        let problems = exporter.export(seq: state.seq)
        if !problems.isEmpty {
            observer?.exportFailed(count: problems.count)
            if exportProblems.isEmpty {
                logger.error(
                    "cannot update an export file; /readyz is 503 until it holds the current seq",
                    metadata: ["problem": "\(problems.joined(separator: "; "))"])
            }
        } else if !exportProblems.isEmpty {
            logger.notice("export files hold the current seq again", metadata: ["seq": "\(state.seq)"])
        }
        let changed = problems != exportProblems
        exportProblems = problems
        if changed {
            updateWriteHealth()
        }
    }

    /// Tells `/readyz` and the metrics what could not be written.
    private func updateWriteHealth() {
        var problems: [String] = []
        if let saveProblem {
            problems.append("the state is not saved (\(saveProblem)); a restart would begin a new instance")
        }
        problems += exportProblems.map { "an export file does not hold the current seq (\($0))" }
        publisher.reportWriteProblems(problems)
        observer?.writeHealth(statePersisted: saveProblem == nil, exportsCurrent: exportProblems.isEmpty)
    }
}
