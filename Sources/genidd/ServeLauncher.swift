import ArgumentParser

/// `genidd serve [OPTIONS]`: the daemon. Listed here for `genidd --help`;
/// `main.swift` hands `serve` and everything after it to `genidd-daemon`
/// before any parsing, so that `genidd serve --help` prints the daemon's own help.
struct ServeLauncher: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Watch the VM generation counter and serve it over HTTP (runs genidd-daemon).")

    @Argument(parsing: .captureForPassthrough, help: "The daemon's options; see genidd serve --help.")
    var arguments: [String] = []

    func run() throws {
        DaemonLauncher.run(arguments)
    }
}
