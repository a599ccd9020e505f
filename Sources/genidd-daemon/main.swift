// genidd-daemon: the daemon behind `genidd serve` (which runs this executable).
// See README.md.
ServeCommand.main()
