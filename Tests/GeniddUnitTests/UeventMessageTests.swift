import Testing

@testable import GeniddGeneration
@testable import GeniddServer
@testable import GeniddSystem

@Suite("uevent messages")
struct UeventMessageTests {
    /// What Linux 6.8's vmgenid driver broadcasts on a new VM generation
    /// (kobject_uevent_env with NEW_VMGENID=1; DRIVER is added for bound devices).
    static let newGeneration = Array(
        ("change@/devices/LNXSYSTM:00/LNXSYBUS:00/QEMUVGID:00\0ACTION=change\0"
            + "DEVPATH=/devices/LNXSYSTM:00/LNXSYBUS:00/QEMUVGID:00\0SUBSYSTEM=acpi\0DRIVER=vmgenid\0"
            + "MODALIAS=acpi:QEMUVGID:VM_GEN_COUNTER:\0NEW_VMGENID=1\0SEQNUM=3021\0").utf8)

    @Test("the vmgenid driver's NEW_VMGENID uevent is recognised")
    func recognised() throws {
        let message = try #require(UeventMessage.parse(Self.newGeneration))
        #expect(message.action == "change")
        #expect(message.devicePath == "/devices/LNXSYSTM:00/LNXSYBUS:00/QEMUVGID:00")
        #expect(message.environment["SEQNUM"] == "3021")
        #expect(message.isNewVMGeneration)
    }

    @Test(
        "other uevents are not a new generation",
        arguments: [
            "change@/devices/platform/VMGENCTR:00\0ACTION=change\0DRIVER=vmgenid\0SYNTH_UUID=0\0",
            "add@/devices/virtual/net/lo\0ACTION=add\0NEW_VMGENID=1\0",
            "change@/devices/x\0ACTION=change\0DRIVER=other\0NEW_VMGENID=1\0",
            "change@/devices/x\0ACTION=change\0DRIVER=vmgenid\0NEW_VMGENID=0\0",
        ])
    func notNewGeneration(text: String) throws {
        let message = try #require(UeventMessage.parse(Array(text.utf8)))
        #expect(!message.isNewVMGeneration)
    }

    @Test("udev's re-broadcasts and garbage are not kernel uevents")
    func notKernelUevents() {
        #expect(UeventMessage.parse(Array("libudev\0\u{fe}\u{ed}\u{ca}\u{fe}".utf8)) == nil)
        #expect(UeventMessage.parse([UInt8]()) == nil)
        #expect(UeventMessage.parse(Array("no at sign\0A=B\0".utf8)) == nil)
    }
}
