// genidd-daemon: the daemon behind `genidd serve`, which runs this executable.
// See README.md.
import GeniddServer
import GeniddSystem
import Logging

#if canImport(Glibc)
    import Glibc
#endif

var configuration = DaemonConfiguration()
configuration.version = GeniddVersion.current
do {
    switch try ServeCommandLine.parse(Array(CommandLine.arguments.dropFirst())) {
    case .help:
        Console.write(ServeCommandLine.help, to: STDOUT_FILENO)
        exit(0)
    case .version:
        Console.out("genidd \(GeniddVersion.current)")
        exit(0)
    case .serve(let given):
        for (option, values) in given {
            let effective = values.isEmpty ? DaemonConfiguration.environmentValues(for: option) : values
            try configuration.apply(option, effective)
        }
        try configuration.finish()
    }
} catch {
    Console.error("genidd serve: \(error)\nUsage: genidd serve [OPTIONS] (see genidd serve --help)")
    exit(64)
}

let level = configuration.logLevel
let format = configuration.logFormat
LoggingSystem.bootstrap { label in LineLogHandler(label: label, format: format, level: level) }
let logger = Logger(label: "genidd")
do {
    try Daemon(configuration: configuration, logger: logger).run()
} catch {
    logger.critical("cannot start: \(error)")
    exit(1)
}
