import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The `kmsg` source: VM forks counted from the kernel log.
///
/// Works on every kernel from 5.18 with the vmgenid driver bound: the driver
/// reseeds the RNG on each new VM generation and `random.c` logs it. Only
/// kernel-facility records count (userspace cannot forge facility 0 through
/// `/dev/kmsg`), and the record sequence number is the cursor that survives
/// daemon restarts within a boot.
final class KmsgSource: GenerationSource {
    let name = "kmsg"
    let notification = ChangeNotification.poll
    let checkInterval: Duration? = nil
    var descriptor: Int32 { file?.raw ?? -1 }

    private let path: String
    private var file: OwnedDescriptor?
    private var counter = KmsgForkCounter()
    private var buffer = [UInt8](repeating: 0, count: 16384)
    /// Called with warnings worth a log line (wrapped log on first start).
    private let warn: (String) -> Void

    init(path: String = "/dev/kmsg", warn: @escaping (String) -> Void = { _ in }) {
        self.path = path
        self.warn = warn
    }

    func open(resume: SourceCheckpoint?) throws -> SourceEvent {
        close()
        let file: OwnedDescriptor
        do {
            file = try OwnedDescriptor.open(path, O_RDONLY | O_NONBLOCK)
        } catch let error as SystemError where error.code == EPERM || error.code == EACCES {
            throw SourceError.permission(
                "\(path): permission denied; reading the kernel log needs CAP_SYSLOG "
                    + "(kernel.dmesg_restrict=1) or root")
        }
        self.file = file
        let identity = try file.identity()
        guard identity.isCharacterDevice else {
            throw SourceError.malformed("\(path): is \(identity.kind.rawValue), not the kernel log device")
        }
        let cursor = resume?.cursor.flatMap { UInt64($0) }
        counter = KmsgForkCounter(generation: resume?.generation ?? 0, lastSequence: cursor)
        let firstSequence = try drain()
        if cursor == nil, let first = firstSequence, first > 0 {
            warn(
                "the kernel log has wrapped (oldest record is #\(first)); VM forks logged before it "
                    + "are not counted in this boot's generation")
        }
        return .reading(currentReading())
    }

    func check() throws -> [SourceEvent] {
        let before = (counter.generation, counter.lastSequence)
        _ = try drain()
        if counter.generation == before.0 && counter.lastSequence == before.1 && counter.doubt == nil {
            return []
        }
        return [.reading(currentReading())]
    }

    func close() {
        file = nil
    }

    private func currentReading() -> SourceReading {
        let doubt = counter.takeDoubt()
        return SourceReading(
            generation: counter.generation, cursor: counter.lastSequence.map { String($0) }, doubt: doubt)
    }

    /// Reads every available record. Returns the sequence number of the first one.
    private func drain() throws -> UInt64? {
        guard let file else { return nil }
        var first: UInt64?
        while true {
            let read: Int?
            do {
                read = try buffer.withUnsafeMutableBytes { try file.read(into: $0) }
            } catch let error as SystemError where error.code == EPIPE {
                counter.recordsLost()
                continue
            }
            guard let count = read, count > 0 else {
                return first
            }
            guard let record = KmsgRecord.parse(buffer[0..<count]) else { continue }
            if first == nil {
                first = record.sequence
            }
            counter.feed(record)
        }
    }
}
