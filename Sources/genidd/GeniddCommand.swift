import ArgumentParser
import GeniddSystem

/// The `genidd` command: the daemon (`serve`), its clients (`get`, `wait`, `watch`) and `probe`.
struct GeniddCommand: ParsableCommand {

    static let configuration = CommandConfiguration(
        commandName: "genidd",
        abstract: "Tell every process on a VM, within milliseconds, that the VM was restored or cloned.",
        discussion: """
            genidd watches the VM generation counter (VMClock, sysgenid, vmgenid or the \
            kernel log) and serves it over HTTP on loopback and a Unix socket, so that \
            processes and containers reseed RNGs, rotate secrets and regenerate unique \
            IDs after a snapshot restore. get, wait and watch are its clients, for shells \
            and containers.
            """,
        version: "genidd \(GeniddVersion.current)",
        subcommands: [ServeLauncher.self, GetCommand.self, WaitCommand.self, WatchCommand.self, ProbeCommand.self],
        defaultSubcommand: nil
    )
}
