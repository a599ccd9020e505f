import GeniddGeneration
import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// Saves the hub's watcher registry to `watchers.json` on its own thread, so
/// that a slow disk never delays heartbeats or HTTP answers.
///
/// Changes that matter to an orchestrator (a watcher added, removed,
/// acknowledging or expiring) are saved within ``structuralDelay``; mere
/// signs of life within ``touchDelay``; everything once more at shutdown. A
/// crash can lose the last ``structuralDelay`` of registrations.
final class WatcherPersistence: Sendable {
    private let hub: GenerationHub
    private let path: String
    private let bootID: String
    private let logger: Logger
    private let stopSignal: WakeSignal
    private let thread: OSThread

    /// Changes are gathered this long before one write.
    static let structuralDelay = Duration.milliseconds(100)
    /// Last-seen times alone are written at most this often.
    static let touchDelay = Duration.seconds(10)
    /// A failed write is tried again after this long.
    static let retryDelay = Duration.seconds(1)

    /// Loads the saved registry into `hub` (when it is from this boot and
    /// well-formed) and starts saving changes.
    init(hub: GenerationHub, directory: String, bootID: String, logger: Logger) throws {
        let path = directory + "/" + WatcherFile.name
        self.hub = hub
        self.path = path
        self.bootID = bootID
        self.logger = logger
        Self.restore(into: hub, from: path, bootID: bootID, logger: logger)
        let stopSignal = try WakeSignal()
        self.stopSignal = stopSignal
        thread = try OSThread(name: "genidd-watchers") {
            Self.run(
                hub: hub, stop: stopSignal, save: { Self.save(hub: hub, path: path, bootID: bootID, logger: logger) })
        }
    }

    /// Stops the thread after a last save (call once the HTTP servers stopped,
    /// so that the streams' last sightings are in it).
    func stop() {
        stopSignal.signal()
        thread.join()
    }

    private static func restore(into hub: GenerationHub, from path: String, bootID: String, logger: Logger) {
        let file: WatcherFile
        do {
            file = try WatcherFile(parsing: FileIO.readSmallFile(path, limit: WatcherFile.sizeLimit))
        } catch let error as SystemError where error.code == ENOENT {
            return
        } catch {
            logger.warning("ignoring saved watchers", metadata: ["problem": "\(error)"])
            return
        }
        guard file.bootID == bootID else {
            logger.info("saved watchers are from an earlier boot; not restoring them")
            return
        }
        let count = hub.restoreWatchers(from: file)
        logger.info("restored watchers", metadata: ["count": "\(count)"])
    }

    /// Writes the registry; returns false when the write failed.
    private static func save(hub: GenerationHub, path: String, bootID: String, logger: Logger) -> Bool {
        guard let file = hub.watcherFile(bootID: bootID) else { return true }
        do {
            try FileIO.writeAtomically(path, contents: Array((JSONCodec.encode(file.json) + "\n").utf8), mode: 0o600)
            return true
        } catch {
            logger.error("cannot save watchers", metadata: ["problem": "\(error)"])
            return false
        }
    }

    private static func run(hub: GenerationHub, stop: WakeSignal, save: () -> Bool) {
        var saved = hub.watcherRevisions
        /// When to write next, or nil when nothing is pending.
        var due: MonotonicInstant?
        while true {
            let wait = Duration.pollTimeout(due?.remaining)
            var entries = [
                pollfd(fd: stop.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: hub.watcherChanges.descriptor, events: Int16(POLLIN), revents: 0),
            ]
            _ = entries.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), wait) }
            hub.watcherChanges.drain()
            let stopping = entries[0].revents != 0
            let now = MonotonicInstant.now
            let current = hub.watcherRevisions
            if current.revision != saved.revision {
                due = min(due ?? .never, now.advanced(by: structuralDelay))
            } else if current.touches != saved.touches {
                due = min(due ?? .never, now.advanced(by: touchDelay))
            }
            if let pending = due, stopping || now >= pending {
                if current == saved {
                    due = nil
                } else if save() {
                    saved = current
                    due = nil
                } else {
                    due = now.advanced(by: retryDelay)
                }
            }
            if stopping {
                return
            }
        }
    }
}
