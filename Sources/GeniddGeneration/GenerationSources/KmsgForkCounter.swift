import GeniddSystem

/// Counts VM forks in the kernel log: records of the kernel facility whose
/// message is the one `drivers/char/random.c` prints when the vmgenid driver
/// reports a new generation. Tracks the record sequence so that restarts
/// neither count twice nor miss, and turns any gap into a doubt.
struct KmsgForkCounter: Sendable, Equatable {
    /// What `random.c` prints, with its `random: ` prefix, on every VM fork.
    static let forkMessage = "random: crng reseeded due to virtual machine fork"

    /// Forks counted (plus one per doubt).
    private(set) var generation: UInt64
    /// The sequence number of the last record seen, or nil before the first.
    private(set) var lastSequence: UInt64?
    /// Why the counter cannot rule out a missed fork since the last `takeDoubt()`.
    private(set) var doubt: String?

    init(generation: UInt64 = 0, lastSequence: UInt64? = nil) {
        self.generation = generation
        self.lastSequence = lastSequence
    }

    /// Feeds one record. Records at or before `lastSequence` were already
    /// counted and are skipped. Returns true when the record is a VM fork.
    @discardableResult
    mutating func feed(_ record: KmsgRecord) -> Bool {
        if let last = lastSequence {
            if record.sequence <= last {
                return false
            }
            // `last` may come from the state file: no arithmetic on it may trap.
            if record.sequence - last > 1 {
                noteLoss("kernel log records \(last &+ 1)...\(record.sequence - 1) were lost before genidd read them")
            }
        }
        lastSequence = record.sequence
        guard record.facility == 0, record.message == Self.forkMessage else {
            return false
        }
        // Wraps rather than traps: the count may start from a saved value.
        generation &+= 1
        return true
    }

    /// The kernel reported `EPIPE`: records were overwritten before genidd read them.
    mutating func recordsLost() {
        noteLoss("the kernel log overwrote records before genidd read them (EPIPE)")
    }

    /// Returns and clears the pending doubt.
    mutating func takeDoubt() -> String? {
        defer { doubt = nil }
        return doubt
    }

    private mutating func noteLoss(_ reason: String) {
        // A lost record may have been a fork: count one, once per batch.
        if doubt == nil {
            generation &+= 1
            doubt = reason
        }
    }
}
