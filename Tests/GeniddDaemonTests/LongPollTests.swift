import Foundation
import Testing

extension DaemonTests {
    @Suite("Long-poll: GET /v1/generation?wait=SEQ&timeout=S")
    struct LongPoll {
        @Test("a client that is behind gets the current state at once")
        func behindAnswersAtOnce() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let start = Date()
            let reply = try request(daemon.tcp, "/v1/generation?wait=0&timeout=30")
            #expect(reply.status == 200)
            #expect(reply.json["seq"] as? Int == 1)
            #expect(Date().timeIntervalSince(start) < 1)
        }

        @Test("a waiting client is answered promptly after a change, over TCP and the Unix socket")
        func answeredOnChange() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory, value: "7")
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            for (index, endpoint) in [daemon.tcp, daemon.unix].enumerated() {
                let seq = index + 1
                let socket = try TestSocket(endpoint)
                try socket.sendRequest("GET", "/v1/generation?wait=\(seq)&timeout=20")
                // Still parked: nothing arrives before the change.
                #expect(!socket.fill(timeout: 0.3))
                let changed = Date()
                try counter.write("\(8 + index)")
                let reply = try socket.readResponse(timeout: 5)
                let latency = Date().timeIntervalSince(changed)
                #expect(reply.status == 200)
                #expect(reply.json["seq"] as? Int == seq + 1)
                #expect(reply.json["generation"] as? Int == 8 + index)
                // The change is noticed by inotify; 50 ms is typical, allow for a loaded CI machine.
                #expect(latency < 0.5, "long-poll answered \(latency) s after the change")
            }
        }

        @Test("the timeout ends the wait with 200 and the unchanged body")
        func timeoutAnswersUnchanged() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let start = Date()
            let reply = try request(daemon.tcp, "/v1/generation?wait=1&timeout=0.4")
            let elapsed = Date().timeIntervalSince(start)
            #expect(reply.status == 200)
            #expect(reply.json["seq"] as? Int == 1)
            #expect(elapsed >= 0.39 && elapsed < 2, "timed out after \(elapsed) s")
            let immediate = try request(daemon.tcp, "/v1/generation?wait=1&timeout=0")
            #expect(immediate.status == 200)
        }

        @Test("many parked long-polls are all answered by one change")
        func manyWaiters() throws {
            let directory = try DaemonProcess.makeDirectory()
            let counter = try CounterFile(in: directory)
            let daemon = try DaemonProcess(directory: directory, arguments: ["--source", counter.sourceArgument])
            let sockets = try (0..<100).map { index in
                let socket = try TestSocket(index % 2 == 0 ? daemon.tcp : daemon.unix)
                try socket.sendRequest("GET", "/v1/generation?wait=1&timeout=30")
                return socket
            }
            Thread.sleep(forTimeInterval: 0.3)
            try counter.write("2")
            for socket in sockets {
                let reply = try socket.readResponse(timeout: 5)
                #expect(reply.json["seq"] as? Int == 2)
            }
        }
    }
}
