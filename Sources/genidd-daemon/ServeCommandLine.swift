import GeniddServer
import GeniddSystem

/// `genidd serve`'s command line, read straight from the option table
/// (`DaemonConfiguration.Option`), where each option is declared once with
/// its flag, environment variable and help. The daemon is a single command
/// whose options are all `--name VALUE`, `--name=VALUE` or `--name`; this
/// keeps swift-argument-parser (and the Foundation it brings, 3.9 MiB of
/// binary and 1.8 MiB of resident memory) out of the process that stays up.
/// The client commands (`genidd`) use swift-argument-parser.
enum ServeCommandLine {
    /// What the command line asks for.
    enum Request {
        case help
        case version
        /// Serve, with these values per option (empty when not given).
        case serve([(DaemonConfiguration.Option, [String])])
    }

    /// A command line genidd cannot use; the message names the argument.
    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ arguments: [String]) throws(UsageError) -> Request {
        let options = Dictionary(uniqueKeysWithValues: DaemonConfiguration.Option.allCases.map { ($0.flag, $0) })
        var values: [DaemonConfiguration.Option: [String]] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "-h", "--help", "help": return .help
            case "--version": return .version
            default: break
            }
            let (name, inline) = split(argument)
            guard let option = options[name] else {
                throw UsageError(description: "unknown option '\(argument)' (see genidd serve --help)")
            }
            if option.isFlag {
                guard inline == nil else { throw UsageError(description: "\(name) takes no value") }
                values[option, default: []].append("1")
                continue
            }
            var value = inline
            if value == nil, index < arguments.count {
                value = arguments[index]
                index += 1
            }
            guard let value else { throw UsageError(description: "\(name) needs a value (\(option.valueName))") }
            // A single-valued option given twice takes the later value, as
            // most command lines do (a wrapper script's default, then the
            // operator's override).
            if option.isRepeatable {
                values[option, default: []].append(value)
            } else {
                values[option] = [value]
            }
        }
        return .serve(DaemonConfiguration.Option.allCases.map { ($0, values[$0] ?? []) })
    }

    /// `--name=value` as ("--name", "value"); anything else as (argument, nil).
    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    /// The text of `--help`.
    static var help: String {
        var text = """
            OVERVIEW: Watch the VM generation counter and serve it over HTTP.

            Every option can also be set with an environment variable named GENIDD_ and the
            option in capitals (GENIDD_SOURCE, GENIDD_LISTEN=addr1,addr2, ...). The command
            line wins over the environment. Stops cleanly on SIGTERM, SIGINT or SIGQUIT;
            SIGHUP finds the source again and re-reads the token files.

            USAGE: genidd serve [OPTIONS]

            OPTIONS:

            """
        for option in DaemonConfiguration.Option.allCases where !option.isHidden {
            let usage = option.isFlag ? option.flag : "\(option.flag) \(option.valueName)"
            text += "  \(usage)\n      \(option.help). (\(option.environmentVariable))\n"
        }
        text += "  --version\n      Show the version.\n  -h, --help\n      Show this help.\n"
        return text
    }
}
