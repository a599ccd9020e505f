/// The fields of a VMClock page (`struct vmclock_abi`) that genidd uses, read
/// consistently under the page's seqcount.
public struct VMClockSnapshot: Sendable, Equatable {
    /// `0x4b4c4356`, "VCLK".
    static let magicValue: UInt32 = 0x4b4c_4356
    /// `VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT`: `vm_generation_counter` is valid (Linux 7.0).
    static let generationCounterPresent: UInt64 = 1 << 8
    /// `VMCLOCK_FLAG_NOTIFICATION_PRESENT`: `poll()` on the device wakes on each update.
    static let notificationPresent: UInt64 = 1 << 9
    /// Bytes of the structure before `vm_generation_counter` (Linux 6.13).
    public static let baseSize: UInt32 = 104
    /// Bytes of the structure up to and including `vm_generation_counter`.
    public static let sizeWithGenerationCounter: UInt32 = 112

    var magic: UInt32
    public var size: UInt32
    var version: UInt16
    var sequence: UInt32
    public var disruptionMarker: UInt64
    public var flags: UInt64
    public var vmGenerationCounter: UInt64

    /// True when the page carries a usable VM generation counter.
    public var hasGenerationCounter: Bool {
        flags & Self.generationCounterPresent != 0 && size >= Self.sizeWithGenerationCounter
    }

    public var hasNotification: Bool { flags & Self.notificationPresent != 0 }

    /// Why the page is not a VMClock page genidd understands, or nil.
    public var problem: String? {
        if magic != Self.magicValue {
            return "bad magic 0x\(String(magic, radix: 16)) (expected 0x4b4c4356, \"VCLK\")"
        }
        if version != 1 {
            return "unsupported version \(version) (expected 1)"
        }
        if size < Self.baseSize {
            return "size \(size) is smaller than struct vmclock_abi"
        }
        return nil
    }
}
