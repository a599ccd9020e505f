import GeniddSystem

/// genidd's state as `GET /v1/generation` and each SSE `generation` event carry it.
public struct GenerationSnapshot: Sendable, Equatable {
    public var seq: UInt64
    public var generation: UInt64
    public var uuidHash: String?
    public var source: String
    public var changedAt: String
    public var instance: String
    /// The random id of this `seq`; nil from a genidd that does not serve one.
    public var generationID: String?
    public var stale: Bool
    /// The document as received, for `--json`.
    public var json: JSONValue

    /// Reads the fields the API promises; throws naming the first one missing.
    public init(json: JSONValue) throws(SnapshotError) {
        guard let seq = json["seq"]?.uint64Value else { throw SnapshotError(field: "seq") }
        guard let generation = json["generation"]?.uint64Value else { throw SnapshotError(field: "generation") }
        guard let uuidHash = json["uuid_hash"], uuidHash.isNull || uuidHash.stringValue != nil else {
            throw SnapshotError(field: "uuid_hash")
        }
        guard let source = json["source"]?.stringValue else { throw SnapshotError(field: "source") }
        guard let changedAt = json["changed_at"]?.stringValue else { throw SnapshotError(field: "changed_at") }
        guard let instance = json["instance"]?.stringValue else { throw SnapshotError(field: "instance") }
        guard let stale = json["stale"]?.boolValue else { throw SnapshotError(field: "stale") }
        let generationID = json["generation_id"]
        guard generationID == nil || generationID?.stringValue != nil else {
            throw SnapshotError(field: "generation_id")
        }
        self.seq = seq
        self.generation = generation
        self.uuidHash = uuidHash.stringValue
        self.source = source
        self.changedAt = changedAt
        self.instance = instance
        self.generationID = generationID?.stringValue
        self.stale = stale
        self.json = json
    }

    /// Parses JSON text (an SSE event's `data`, a response body).
    public init(text: [UInt8]) throws(SnapshotError) {
        let value: JSONValue
        do {
            value = try JSONCodec.decode(text)
        } catch {
            throw SnapshotError(field: nil, reason: "\(error)")
        }
        try self.init(json: value)
    }

    /// One line for people and `read`: `seq=7 generation=43 source=kmsg stale=false changed_at=… instance=… uuid_hash=…
    /// generation_id=…` (`uuid_hash=` and `generation_id=` are empty when there is none; values with spaces or `=`
    /// are quoted).
    public var line: String {
        let fields = [
            ("seq", "\(seq)"), ("generation", "\(generation)"), ("source", source), ("stale", "\(stale)"),
            ("changed_at", changedAt), ("instance", instance), ("uuid_hash", uuidHash ?? ""),
            ("generation_id", generationID ?? ""),
        ]
        return fields.map { "\($0.0)=\(KeyValueText.quote($0.1))" }.joined(separator: " ")
    }

    /// The compact JSON document.
    public var jsonText: String { JSONCodec.encode(json) }

    /// The environment `watch --exec` gives its command.
    public var environment: [(String, String)] {
        [
            ("GENIDD_SEQ", "\(seq)"), ("GENIDD_GENERATION", "\(generation)"), ("GENIDD_UUID_HASH", uuidHash ?? ""),
            ("GENIDD_SOURCE", source), ("GENIDD_INSTANCE", instance), ("GENIDD_CHANGED_AT", changedAt),
            ("GENIDD_GENERATION_ID", generationID ?? ""),
        ]
    }
}

/// A state document that lacks a field genidd's API promises.
public struct SnapshotError: Error, CustomStringConvertible, Sendable {
    public var field: String?
    public var reason: String?

    init(field: String?, reason: String? = nil) {
        self.field = field
        self.reason = reason
    }

    public var description: String {
        if let field {
            return "the state has no valid \"\(field)\""
        }
        return reason ?? "the state is not valid"
    }
}
