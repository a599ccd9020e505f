import ArgumentParser
import GeniddSystem
import Logging

/// `genidd get`: the current state, once.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Print genidd's current state.",
        discussion: """
            Prints one line: seq=7 generation=43 source=kmsg stale=false changed_at=... instance=... \
            uuid_hash=... (empty when genidd has no UUID) generation_id=... (the random id of this \
            seq), or with --json the JSON document of GET /v1/generation.

            Exit status: 0 on success; 1 when genidd cannot be reached or answers with an error \
            (its problem detail is printed); 64 for bad flags.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print the JSON document instead of a line.")
    var json = false

    func run() throws {
        ConnectionOptions.bootstrapLogging()
        let client = try connection.makeClient()
        let state = try client.state()
        Console.out(json ? state.jsonText : state.line)
    }
}
