import GeniddGeneration
import GeniddSystem

/// The last few states with a new `seq` that the source confirmed, newest
/// first, for the status page (`GET /v1/status`). A stale state is recorded
/// once its source confirms it: not the placeholder published before the
/// first reading, nor a restored state until the source agrees. Kept in
/// memory only: a restarted genidd starts with the state it resumed from.
struct ChangeHistory: Sendable {
    /// How many changes are kept.
    static let capacity = 20

    private(set) var entries: [GenerationState] = []

    /// Records `state` when it is healthy and its `<instance>.<seq>` is new.
    mutating func record(_ state: GenerationState) {
        guard !state.stale, entries.first?.tag != state.tag else { return }
        entries.insert(state, at: 0)
        if entries.count > Self.capacity {
            entries.removeLast(entries.count - Self.capacity)
        }
    }

    /// `[{"seq", "generation", "changed_at", "source", "instance"}]`, newest first.
    var json: JSONValue {
        .array(
            entries.map { state in
                .object([
                    ("seq", .uint(state.seq)),
                    ("generation", .uint(state.generation)),
                    ("changed_at", .string(Timestamp.rfc3339(milliseconds: state.changedAtMilliseconds))),
                    ("source", .string(state.source)),
                    ("instance", .string(state.instance)),
                ])
            })
    }
}
