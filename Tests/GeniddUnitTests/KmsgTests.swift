import Testing

@testable import GeniddGeneration
@testable import GeniddServer
@testable import GeniddSystem

@Suite("kmsg records and the VM fork counter")
struct KmsgTests {
    /// Bytes as `read()` on /dev/kmsg returns them (captured on Linux 6.18).
    static let forkRecord = Array("6,1042,1425431,-;random: crng reseeded due to virtual machine fork\n".utf8)
    static let forkWithCaller = Array(
        "5,1043,1425900,-,caller=T1;random: crng reseeded due to virtual machine fork\n SUBSYSTEM=random\n".utf8)
    /// What the kernel stores when root writes "<0>random: ..." to /dev/kmsg: facility LOG_USER.
    static let forgedRecord = Array("8,1044,1500000,-;random: crng reseeded due to virtual machine fork\n".utf8)
    static let otherRecord = Array("6,1045,1600000,-;virtio_net virtio1 eth0: link up\n".utf8)

    @Test("parses priority, sequence, timestamp and message")
    func parse() throws {
        let record = try #require(KmsgRecord.parse(Self.forkWithCaller))
        #expect(record.facility == 0)
        #expect(record.level == 5)
        #expect(record.sequence == 1043)
        #expect(record.timestampMicroseconds == 1_425_900)
        #expect(record.message == KmsgForkCounter.forkMessage)
        let forged = try #require(KmsgRecord.parse(Self.forgedRecord))
        #expect(forged.facility == 1)
        #expect(forged.level == 0)
    }

    @Test(
        "rejects bytes that are not a record",
        arguments: ["", "no semicolon", "x,1,2,-;msg", "6,1,2;msg", "6,-1,2,-;m", "6,99999999999999999999999,2,-;m"])
    func rejectGarbage(text: String) {
        #expect(KmsgRecord.parse(Array(text.utf8)) == nil)
    }

    @Test("counts kernel fork records only; a forged userspace record is ignored")
    func countsForks() throws {
        var counter = KmsgForkCounter()
        #expect(counter.feed(try #require(KmsgRecord.parse(Self.forkRecord))))
        #expect(counter.feed(try #require(KmsgRecord.parse(Self.forkWithCaller))))
        #expect(!counter.feed(try #require(KmsgRecord.parse(Self.forgedRecord))))
        #expect(!counter.feed(try #require(KmsgRecord.parse(Self.otherRecord))))
        #expect(counter.generation == 2)
        #expect(counter.lastSequence == 1045)
        #expect(counter.takeDoubt() == nil)
    }

    @Test("records at or before the cursor are not counted again after a restart")
    func resumeFromCursor() throws {
        var counter = KmsgForkCounter(generation: 1, lastSequence: 1042)
        #expect(!counter.feed(try #require(KmsgRecord.parse(Self.forkRecord))))
        #expect(counter.feed(try #require(KmsgRecord.parse(Self.forkWithCaller))))
        #expect(counter.generation == 2)
    }

    @Test("a sequence gap is reported as a change, once per batch")
    func gapIsDoubt() throws {
        var counter = KmsgForkCounter(generation: 3, lastSequence: 1000)
        counter.feed(try #require(KmsgRecord.parse(Self.otherRecord)))
        #expect(counter.generation == 4)
        let taken = counter.takeDoubt()
        let doubt = try #require(taken)
        #expect(doubt.contains("1001...1044"))
        #expect(counter.takeDoubt() == nil)
    }

    @Test("EPIPE (records overwritten) is reported as a change")
    func lossIsDoubt() {
        var counter = KmsgForkCounter(generation: 0, lastSequence: 5)
        counter.recordsLost()
        counter.recordsLost()
        #expect(counter.generation == 1)
        #expect(counter.takeDoubt()?.contains("EPIPE") == true)
    }
}
