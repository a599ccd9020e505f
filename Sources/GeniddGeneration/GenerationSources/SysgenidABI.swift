import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The ioctl ABI revision of a sysgenid device. The driver was never merged
/// and renumbered its ioctls between the posted revisions (the history is in
/// `genidd_kernel_abi.h`); genidd finds out which one a device speaks when it
/// opens it, without changing the device's state, and reports it in `/readyz`
/// as `sysgenid_abi`.
enum SysgenidABI: String, Sendable {
    /// Patch v4 (seed 004): magic 0x2d with `GET_OUTDATED_WATCHERS`,
    /// `WAIT_WATCHERS` and `FORCE_GEN_UPDATE`; every open file is a watcher.
    case v4
    /// Patch v5: magic 0xE4, `WAIT_WATCHERS` (1) and `FORCE_GEN_UPDATE` (2)
    /// only; every open file is a watcher, and the driver no longer counts
    /// outdated watchers for userspace.
    case v5
    /// Patches v6 to v8 and the Amazon Linux driver: magic 0xE4,
    /// `SET_WATCHER_TRACKING` (1), `WAIT_WATCHERS` (2), `TRIGGER_GEN_UPDATE`
    /// (3). An open file is a watcher only once it opts in.
    case v7
    /// Not told apart: the device answered neither probe as a sysgenid
    /// driver does, or is read-only (v5 and v7 differ only in what a write
    /// returns). genidd then issues no ioctl at all.
    case unknown

    /// Finds the revision of the sysgenid device open on `file` by two
    /// requests that every revision rejects or only reads:
    ///  1. `GET_OUTDATED_WATCHERS` of v4 (`_IO(0x2d, 1)`): v4 answers with a
    ///     count; the 0xE4 revisions do not know it and answer `EINVAL`.
    ///  2. then, only for those, a 1-byte `write()`, which every revision
    ///     refuses before looking at it (a counter is 4 bytes): v5 with
    ///     `EINVAL`, v6 and later with `ENOBUFS`.
    /// Neither moves the counter, acknowledges anything or starts tracking.
    /// (Trying `_IO(0xE4, 1)` instead would be `WAIT_WATCHERS` on v5 and
    /// block; `_IO(0xE4, 2)` would force a new generation there.)
    static func detect(_ file: OwnedDescriptor, writable: Bool) -> SysgenidABI {
        do {
            _ = try KernelShims.sysgenidOutdatedWatchers(file)
            return .v4
        } catch let error as SystemError where error.code == EINVAL {
            // A 0xE4 revision.
        } catch {
            return .unknown
        }
        guard writable else { return .unknown }
        var byte: UInt8 = 0
        do {
            _ = try withUnsafeBytes(of: &byte) { try file.write($0) }
            return .unknown
        } catch let error as SystemError where error.code == ENOBUFS {
            return .v7
        } catch let error as SystemError where error.code == EINVAL {
            return .v5
        } catch {
            return .unknown
        }
    }

    /// The revision number the C shim's `FORCE_GEN_UPDATE` takes, or nil
    /// when genidd must not issue ioctls.
    var revision: Int32? {
        switch self {
        case .v4: return 4
        case .v5: return 5
        case .v7: return 7
        case .unknown: return nil
        }
    }

    /// True when an open file counts as a watcher only after `SET_WATCHER_TRACKING(1)`.
    var tracksOnRequest: Bool { self == .v7 }

    /// True when the driver tells userspace how many watchers are outdated.
    var countsOutdatedWatchers: Bool { self == .v4 }
}
