import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import WardenCore
import WardenMockUpstream
import WardenServer
import WardenTools

@main
enum Main {
    static func main() async {
        // Run Swift Concurrency's jobs on NIO's event loops: request handlers then resume on the thread
        // that did the I/O instead of hopping to Dispatch's pool and back, which costs more CPU per request
        // than the rest of Warden's request path.
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await Warden.main()
    }
}

struct Warden: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden",
        abstract: "The production gateway for AI agents.",
        discussion: """
            Warden sits between agents and the models they call: a drop-in OpenAI and Anthropic API with \
            retries, fallbacks, circuit breakers and deep health checks.

            Start with `warden demo`, then `warden serve` (no config: SQLite in ./warden-data and the \
            built-in mock upstream on 127.0.0.1:4000).
            """,
        subcommands: [
            ServeCommand.self, DemoCommand.self, DoctorCommand.self, TeamsCommand.self, KeysCommand.self, SpendCommand.self,
            AuditCommand.self, ApprovalsCommand.self, PolicyCommand.self, GuardCommand.self, MockUpstreamCommand.self,
        ])
}

struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The YAML configuration file. Without it Warden runs the embedded default.")
    var config: String?

    @Option(name: .long, help: "Listen address (host:port), overriding the config's `listen`.")
    var listen: String?

    @Option(name: .customLong("data-dir"), help: "Data directory, overriding the config's `data_dir`.")
    var dataDir: String?

    func serverOptions(printGeneratedKey: Bool = true) throws -> WardenServer.Options {
        var listenAddress: ListenAddress?
        if let listen {
            guard let parsed = ListenAddress.parse(listen) else {
                throw ValidationError("--listen must be host:port, like 127.0.0.1:4000")
            }
            listenAddress = parsed
        }
        return WardenServer.Options(
            configPath: config, listenOverride: listenAddress, dataDirOverride: dataDir, printGeneratedKey: printGeneratedKey)
    }
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the gateway.",
        discussion: """
            With no --config: listens on 127.0.0.1:4000, keeps data in ./warden-data (SQLite), and serves the \
            models mock-small, mock-large and mock-flaky (always 503, falls back to mock-small) from the \
            built-in mock upstream. On first start it generates a key for team `default`, prints it once and \
            stores only its hash.

            SIGHUP or a change of the config file reloads it if it is valid (an invalid file is logged and the \
            old configuration stays). SIGTERM reports unready at once, keeps serving for shutdown.drain_delay, \
            then finishes in-flight requests (at most shutdown.timeout) and exits 0.
            """)

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        do {
            try await WardenServer.run(options: options.serverOptions())
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("warden: configuration error: \(error)\n".utf8))
            throw ExitCode(78)  // EX_CONFIG
        }
    }
}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start the embedded default in-process, send an agent workload through it, print a summary.",
        discussion: """
            Then governance (teams, keys and budgets made with the admin API; spend per team; a budget refusal), \
            guardrails for one team (redaction with restore, an injection refused, a tool call held for approval \
            and handed back once approved) and `warden audit verify` on the log the run left. Uses a temporary \
            data directory and a free port, so it does not touch ./warden-data or a running server. Exits non-zero \
            if any response differs from what the APIs and the mock upstream promise.
            """)

    func run() async throws {
        let ok = try await DemoRunner.run()
        if !ok { throw ExitCode.failure }
    }
}

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check a configuration: validity, secret sources, data directory, listen address, providers.",
        discussion: "Exits 1 if anything would stop `warden serve` from working; warnings (e.g. env: secrets) do not.")

    @OptionGroup var options: ConfigOptions

    @Flag(name: .customLong("no-probe"), help: "Do not send a probe request to each provider.")
    var noProbe = false

    func run() async throws {
        let findings = await Doctor.run(options: try options.serverOptions(), probe: !noProbe)
        print(Doctor.render(findings))
        if findings.contains(where: { $0.level == .error }) { throw ExitCode.failure }
    }
}

struct MockUpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-upstream",
        abstract: "Run the deterministic OpenAI + Anthropic mock upstream.",
        discussion: """
            Serves POST /v1/chat/completions, /v1/messages, /v1/messages/count_tokens, /v1/embeddings and \
            GET /v1/models. The reply is "Echo: " + the last user message; usage is ceil(Unicode scalars / 4) \
            of the prompt's text and of the reply. Requests offering tools with tool_choice required/any or a \
            named function get one call with the schema's required fields filled. Embeddings are \
            deterministic unit vectors. Upstream model names select failures: fail-503, fail-429 \
            (Retry-After: 1), slow-<ms> (waits before the headers), drop-midstream (closes the connection \
            halfway), bad-json, ctx-<N> (a context window of N tokens: longer prompts get the provider's \
            "context too long" 400), cache-<read>-<write> and reasoning-<N> (usage with cached-prompt, \
            cache-write or reasoning tokens). GET /mock/journal returns counters and the last 100 requests; \
            POST /mock/webhooks records webhook deliveries and GET /mock/webhooks lists them.
            """)

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one and prints it).") var port: Int
    @Option(name: .customLong("latency-ms"), help: "Pause between streamed chunks and before non-streamed answers.")
    var latencyMilliseconds = 0
    @Option(name: .customLong("embedding-dimensions"), help: "Vector size when the request sets no `dimensions`.")
    var embeddingDimensions = 256

    func validate() throws {
        guard (1...65_536).contains(embeddingDimensions) else { throw ValidationError("--embedding-dimensions must be between 1 and 65536") }
        guard (0...3_600_000).contains(latencyMilliseconds) else { throw ValidationError("--latency-ms must be between 0 and 3600000") }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
    }

    func run() async throws {
        let logger = Logger(label: "warden.mock")
        let mock = MockUpstream(
            configuration: .init(latency: .milliseconds(latencyMilliseconds), embeddingDimensions: embeddingDimensions))
        let app = mock.application(host: host, port: port, logger: logger) { bound in
            FileHandle.standardOutput.write(Data("warden mock upstream listening on http://\(host):\(bound)\n".utf8))
        }
        try await app.runService()
    }
}
