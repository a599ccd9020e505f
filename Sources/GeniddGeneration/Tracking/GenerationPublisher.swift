import GeniddSystem

/// Where the generation layer hands its results: the server's fan-out
/// (``GenerationHub``) implements it. The tracker calls it from the source
/// thread; it must not block, but for ``waitUntilDelivered(timeout:)``.
public protocol GenerationPublisher: AnyObject, Sendable {
    /// A new state (a new `seq`, or the same one turning stale or fresh).
    func publish(_ state: GenerationState)
    /// The VMClock's disruption marker changed (live migration).
    func publishClockDisruption(marker: UInt64, atMilliseconds: Int64)
    /// Waits until every subscriber connected at the last change has taken
    /// it, or `timeout` passed. Returns true when all had.
    func waitUntilDelivered(timeout: Duration) -> Bool
    /// Watchers that have not acknowledged the current `seq`.
    var outdatedWatcherCount: Int { get }
    /// What the source says about itself, for `/readyz`.
    func reportSourceStatus(_ status: [(String, JSONValue)])
    /// What could not be written (the state, export files); `/readyz` is 503 while any.
    func reportWriteProblems(_ problems: [String])
}

/// Who counts what the generation layer does (the server's metrics).
public protocol GenerationObserver: AnyObject, Sendable {
    /// A new `seq` for a change of the VM (not for genidd starting or switching sources).
    func changeReported()
    /// The source failed, for this reason.
    func sourceFailed(_ reason: SourceError.Reason)
    /// A save of the state file failed.
    func stateSaveFailed()
    /// `count` export files could not be updated.
    func exportFailed(count: Int)
    /// Whether the state and every export file hold the current `seq`.
    func writeHealth(statePersisted: Bool, exportsCurrent: Bool)
}
