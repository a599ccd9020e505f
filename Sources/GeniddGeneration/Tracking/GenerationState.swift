import GeniddSystem

/// What genidd tells clients: the generation as the source reports it, and
/// `seq`, which counts every change genidd reported (including changes reported
/// out of doubt). Clients react to a new `seq`.
public struct GenerationState: Sendable, Equatable {
    /// The source's counter (VM forks since boot for `kmsg`, the file's value for `file:`).
    public var generation: UInt64
    /// Change sequence: +1 per reported change, never backwards within a boot.
    public var seq: UInt64
    /// `sha256:` + HMAC of the VM generation UUID, or nil when no UUID is configured.
    var uuidHash: String?
    /// The source's name, for example `kmsg` or `file:/run/counter`.
    public var source: String
    /// Wall-clock milliseconds since the epoch when this `seq` was reported.
    public var changedAtMilliseconds: Int64
    /// Identifies the `seq` series: new when numbering restarts (new boot or lost state).
    public var instance: String
    /// 128 random bits drawn when this `seq` was reported (32 lowercase hex
    /// digits). Random, not derived from the VM's UUID, so safe to expose; two
    /// live VMs serving the same one were cloned without any signal.
    public var generationID: String
    /// True while the source is failing; the last known values are served.
    public var stale: Bool
    /// Why the source is failing, when it is.
    public var staleReason: String?

    init(
        generation: UInt64, seq: UInt64, uuidHash: String?, source: String,
        changedAtMilliseconds: Int64, instance: String, generationID: String, stale: Bool,
        staleReason: String? = nil
    ) {
        self.generation = generation
        self.seq = seq
        self.uuidHash = uuidHash
        self.source = source
        self.changedAtMilliseconds = changedAtMilliseconds
        self.instance = instance
        self.generationID = generationID
        self.stale = stale
        self.staleReason = staleReason
    }

    /// The largest `seq` genidd issues: 2^53-1, the largest integer a
    /// JavaScript client (and any JSON parser that uses doubles) reads exactly.
    /// Past it, or when a saved `seq` is beyond it, genidd starts a new instance.
    static let maximumSeq: UInt64 = (1 << 53) - 1

    /// A new random instance (64 bits from the kernel CSPRNG, as hex).
    static func newInstance() -> String {
        RandomBytes.hex(count: 8)
    }

    /// A new generation id: 128 bits from the kernel CSPRNG, as 32 lowercase hex digits.
    static func newGenerationID() -> String {
        RandomBytes.hex(count: 16)
    }

    /// True for what ``newGenerationID()`` returns: exactly 32 lowercase hex digits.
    static func isValidGenerationID(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// `<instance>.<seq>`: names this state across every series, as the SSE
    /// `id`, the ETag's tag and a long-poll's `wait=` value.
    public var tag: String { "\(instance).\(seq)" }

    /// The strong entity tag of the `GET /v1/generation` body. It is
    /// `"<instance>.<seq>"`; while stale a `-stale` suffix keeps a cached fresh
    /// body from being confirmed by a 304.
    public var entityTag: String {
        stale ? "\"\(tag)-stale\"" : "\"\(tag)\""
    }

    /// The JSON body of `GET /v1/generation` and of each SSE `generation` event.
    public var json: JSONValue {
        .object([
            ("generation", .uint(generation)),
            ("seq", .uint(seq)),
            ("uuid_hash", uuidHash.map { .string($0) } ?? .null),
            ("source", .string(source)),
            ("changed_at", .string(Timestamp.rfc3339(milliseconds: changedAtMilliseconds))),
            ("instance", .string(instance)),
            ("generation_id", .string(generationID)),
            ("stale", .bool(stale)),
        ])
    }
}
