import Foundation
import Testing

@testable import WardenCore

@Suite("Configuration")
struct ConfigurationTests {
    /// The shape the gateway-core issue requires, verbatim.
    static let issueExample = """
        listen: 127.0.0.1:4000
        data_dir: ./warden-data
        keys:                       # static keys, handy for GitOps; stored keys come in a later issue
          - name: ci
            team: research
            key: file:./secrets/ci-key          # secret references: file:PATH, env:NAME (warned), vault:… later
        providers:
          local:
            type: openai                        # openai | anthropic | mock
            base_url: http://127.0.0.1:8000/v1
            api_key: file:./secrets/upstream-key
          claude:
            type: anthropic
            base_url: http://127.0.0.1:8000
            api_key: file:./secrets/upstream-key
        models:
          fast:
            deployments:
              - {provider: local, model: gpt-4o-mini, weight: 3}
              - {provider: claude, model: claude-haiku-4-5, weight: 1}
            fallbacks: [big]                    # tried in order when every deployment of `fast` failed
            context_fallbacks: [big]            # tried when the upstream says the context is too long
            timeout: {connect: 2s, first_byte: 20s, total: 120s}
            retries: 2                          # extra attempts within this model, rotating deployments
            required: true                      # readiness depends on it (default true)
          big:
            deployments: [{provider: local, model: gpt-4o}]
        """

    func parse(_ yaml: String) throws(ConfigurationError) -> WardenConfiguration {
        try ConfigurationLoader.parse(yaml: yaml, baseDirectory: "/etc/warden")
    }

    @Test("the issue's example decodes with every field")
    func example() throws {
        let c = try parse(Self.issueExample)
        #expect(c.listen == ListenAddress(host: "127.0.0.1", port: 4000))
        #expect(c.dataDirectoryPath == "/etc/warden/warden-data")
        #expect(c.keys.first?.key == .file("./secrets/ci-key"))
        #expect(c.keys.first?.team == "research")
        #expect(c.providers.map(\.name) == ["local", "claude"])
        #expect(c.provider(named: "claude")?.type == .anthropic)
        #expect(c.models.map(\.name) == ["fast", "big"])
        let fast = try #require(c.model(named: "fast"))
        #expect(fast.deployments.map(\.weight) == [3, 1])
        #expect(fast.fallbacks == ["big"])
        #expect(fast.contextFallbacks == ["big"])
        #expect(fast.timeout.connect == .seconds(2))
        #expect(fast.timeout.firstByte == .seconds(20))
        #expect(fast.timeout.total == .seconds(120))
        #expect(fast.retries == 2)
        #expect(c.model(named: "big")?.required == true)
        #expect(c.model(named: "big")?.retries == 2, "defaults apply")
    }

    @Test(
        "errors name the key",
        arguments: [
            ("listen: 127.0.0.1:4000\nlisten_port: 5", "listen_port"),
            ("providers:\n  p:\n    type: openai\n    base_url: http://x/v1\n    apikey: k", "providers.p.apikey"),
            ("providers:\n  p:\n    type: grpc", "providers.p.type"),
            ("providers:\n  p:\n    type: openai", "providers.p.base_url"),
            ("providers:\n  p:\n    type: openai\n    base_url: ftp://x", "providers.p.base_url"),
            ("providers:\n  p: {type: mock}\nmodels:\n  m:\n    deployments: [{provider: q, model: x}]", "models.m.deployments[0].provider"),
            ("providers:\n  p: {type: mock}\nmodels:\n  m:\n    deployments: [{provider: p}]", "models.m.deployments[0].model"),
            ("providers:\n  p: {type: mock}\nmodels:\n  m:\n    deployments: [{provider: p, model: x, weight: 0}]", "models.m.deployments[0].weight"),
            ("providers:\n  p: {type: mock}\nmodels:\n  m:\n    deployments: [{provider: p, model: x}]\n    fallbacks: [n]", "models.m.fallbacks[0]"),
            ("providers:\n  p: {type: mock}\nmodels:\n  m:\n    deployments: [{provider: p, model: x}]\n    timeout: {connect: 2}", "models.m.timeout.connect"),
            ("providers:\n  p: {type: mock}\nmodels:\n  m:\n    deployments: [{provider: p, model: x}]\n    timeout: {first_byte: 5m, total: 1m}", "models.m.timeout.first_byte"),
            ("providers:\n  p: {type: mock}\nmodels:\n  m:\n    deployments: [{provider: p, model: x}]\n    retries: 99", "models.m.retries"),
            ("providers:\n  p: {type: mock}\nmodels:\n  m:\n    deployments: []", "models.m.deployments"),
            ("listen: localhost", "listen"),
            ("server: {max_body_size: lots}", "server.max_body_size"),
            ("shutdown: {drain_delay: soon}", "shutdown.drain_delay"),
            ("log: {level: loud}", "log.level"),
            ("keys:\n  - {name: a, key: file:x}\n  - {name: a, key: file:y}", "keys[1].name"),
            ("keys:\n  - {name: a}", "keys[0].key"),
            ("audit: {retention_days: 30}", "audit.retention_days"),
            ("audit: {checkpoint_every: 0}", "audit.checkpoint_every"),
            ("audit: {publish: \"https://hooks.example.com/x\"}", "audit.publish_secret"),
            ("budgets: {default_max_tokens: 0}", "budgets.default_max_tokens"),
            ("budgets: {alerts: {webhook: \"ftp://x\", secret: file:s}}", "budgets.alerts.webhook"),
            ("budgets: {alerts: {webhook: \"https://x\", secret: file:s, thresholds: [0]}}", "budgets.alerts.thresholds[0]"),
        ])
    func namedErrors(_ yaml: String, key: String) {
        let error = #expect(throws: ConfigurationError.self) { try parse(yaml) }
        #expect(error?.key == key, "\(String(describing: error))")
    }

    @Test("YAML syntax errors and empty files are reported")
    func syntax() {
        #expect(throws: ConfigurationError.self) { try parse("models: [unclosed") }
        #expect(throws: ConfigurationError.self) { try parse("   \n") }
    }

    @Test(
        "durations are written with units",
        arguments: [("250ms", 0.25), ("2s", 2.0), ("1.5s", 1.5), ("1m", 60.0), ("2h", 7200.0), ("0s", 0.0)])
    func durations(_ text: String, seconds: Double) {
        #expect(ConfigDuration.parse(text)?.seconds == seconds)
    }

    @Test("durations without a unit or with junk are refused", arguments: ["5", "s", "-1s", "1e3s", "fast", "1 min"])
    func badDurations(_ text: String) {
        #expect(ConfigDuration.parse(text) == nil)
    }

    @Test("sizes", arguments: [("8MiB", 8 * 1024 * 1024), ("512KiB", 512 * 1024), ("1MB", 1_000_000), ("1024", 1024)])
    func sizes(_ text: String, bytes: Int) {
        #expect(ConfigByteSize.parse(text)?.bytes == bytes)
    }

    @Test("secret references resolve from files (trimmed) and the environment")
    func secrets() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warden-secret-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "  s3cret\n".write(toFile: dir + "/k", atomically: true, encoding: .utf8)
        #expect(try SecretReference.parse("file:./k").resolve(baseDirectory: dir) == "s3cret")
        #expect(try SecretReference.parse("env:WARDEN_T").resolve(baseDirectory: dir, environment: ["WARDEN_T": "v"]) == "v")
        #expect(throws: ConfigurationError.self) { try SecretReference.parse("file:./missing").resolve(baseDirectory: dir) }
        #expect(throws: ConfigurationError.self) { try SecretReference.parse("env:NOPE").resolve(baseDirectory: dir, environment: [:]) }
        #expect(SecretReference.parse("env:X").isDiscouraged)
        #expect(SecretReference.parse("plain-value").isDiscouraged)
        #expect(!SecretReference.parse("file:/run/secrets/x").isDiscouraged)
        #expect(!SecretReference.parse("plain-value").description.contains("plain-value"), "descriptions never contain the secret")
    }

    @Test("the embedded default validates and has the three mock models")
    func embeddedDefault() throws {
        let c = WardenConfiguration.embeddedDefault(baseDirectory: "/tmp")
        try ConfigurationLoader.validate(c)
        #expect(c.models.map(\.name) == ["mock-small", "mock-large", "mock-flaky"])
        #expect(c.model(named: "mock-flaky")?.fallbacks == ["mock-small"])
        #expect(c.model(named: "mock-flaky")?.required == false)
        #expect(c.listen.port == 4000)
    }
}
