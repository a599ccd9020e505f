// genidd: the client commands (get, wait, watch, probe) and, through
// genidd-daemon, the daemon itself (serve). See README.md.
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "serve" {
    DaemonLauncher.run(Array(arguments.dropFirst()))
}
GeniddCommand.main()
