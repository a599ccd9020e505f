import GeniddGeneration
import GeniddSystem

/// What the status page shows (`GET /v1/status`): the state, the last
/// changes, and who is listening. Copied under the lock, encoded after.
extension GenerationHub {
    /// The body of `GET /v1/status`, or nil before the first state.
    func statusJSON(connections: Int) -> JSONValue? {
        let snapshot = shared.withLock { shared -> (GenerationState, ChangeHistory, Int, Int, Int, Int)? in
            guard let state = shared.published?.state else { return nil }
            return (
                state, shared.history, shared.streams.count, shared.parked.count, shared.watchers.watchers.count,
                shared.watchers.outdatedCount(seq: state.seq)
            )
        }
        guard let (state, history, streams, parked, watchers, outdated) = snapshot else { return nil }
        return .object([
            ("generation", state.json),
            ("stale_reason", state.staleReason.map { .string($0) } ?? .null),
            ("recent_changes", history.json),
            ("subscribers", .object([("sse", .int(Int64(streams))), ("longpoll", .int(Int64(parked)))])),
            ("watchers", .object([("registered", .int(Int64(watchers))), ("outdated", .int(Int64(outdated)))])),
            ("connections", .int(Int64(connections))),
        ])
    }
}
