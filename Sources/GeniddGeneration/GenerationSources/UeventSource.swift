import GeniddSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The `uevent` source: the `NEW_VMGENID=1` uevents that only Linux
/// 6.8.0–6.8.7 sent (the change was reverted). genidd keeps the counter itself.
///
/// Only messages whose netlink sender is the kernel (port id 0) count: root
/// can broadcast forged uevents to group 1 from userspace. Events cannot be
/// replayed, so a restart within a boot, or a receive-buffer overrun
/// (`ENOBUFS`), is reported as a change: genidd may have missed one.
final class UeventSource: GenerationSource {
    let name = "uevent"
    let notification = ChangeNotification.poll
    let checkInterval: Duration? = nil
    var descriptor: Int32 { socket?.raw ?? -1 }

    private var socket: OwnedDescriptor?
    private var generation: UInt64 = 0
    private var receiveBuffer: Int32 = 1 << 20
    private var buffer = [UInt8](repeating: 0, count: 8192)
    private let log: (String) -> Void

    init(log: @escaping (String) -> Void = { _ in }) {
        self.log = log
    }

    func open(resume: SourceCheckpoint?) throws -> SourceEvent {
        close()
        let socket = try KernelShims.ueventOpen()
        // Best effort: a smaller buffer only makes an overrun (a reported change) likelier.
        try? KernelShims.setReceiveBuffer(socket, bytes: receiveBuffer)
        self.socket = socket
        // Counted with wrapping additions: it may start from a saved value.
        generation = resume?.generation ?? 0
        let doubt = resume == nil ? nil : "uevents sent while genidd was not listening cannot be replayed"
        if doubt != nil {
            generation &+= 1
        }
        return .reading(SourceReading(generation: generation, doubt: doubt))
    }

    func check() throws -> [SourceEvent] {
        guard let socket else { return [] }
        var doubt: String?
        var changed = false
        while true {
            let received: (count: Int, sender: UInt32)?
            do {
                received = try buffer.withUnsafeMutableBytes { try KernelShims.ueventReceive(socket, into: $0) }
            } catch let error as SystemError where error.code == ENOBUFS {
                receiveBuffer = min(receiveBuffer * 2, 16 << 20)
                try? KernelShims.setReceiveBuffer(socket, bytes: receiveBuffer)
                doubt = "the uevent socket overran (ENOBUFS), so a uevent may have been lost"
                continue
            }
            guard let (count, sender) = received else { break }
            guard sender == 0 else {
                log("ignored a uevent broadcast from userspace (netlink port \(sender))")
                continue
            }
            guard let message = UeventMessage.parse(buffer[0..<count]) else { continue }
            if message.isNewVMGeneration {
                changed = true
                generation &+= 1
            } else if message.environment["DRIVER"] == "vmgenid" {
                log("ignored a vmgenid uevent without NEW_VMGENID=1 (\(message.action)@\(message.devicePath))")
            }
        }
        if let doubt, !changed {
            generation &+= 1
            return [.reading(SourceReading(generation: generation, doubt: doubt))]
        }
        return changed ? [.reading(SourceReading(generation: generation, doubt: doubt))] : []
    }

    func close() {
        socket = nil
    }
}
