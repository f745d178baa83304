extension WardenConfiguration {
    /// What `warden serve` runs with no `--config`: SQLite in `./warden-data`, the built-in mock
    /// upstream as the only provider, and three models that show the request path working:
    /// `mock-small`, `mock-large`, and `mock-flaky` (always 503, falling back to `mock-small`).
    public static func embeddedDefault(baseDirectory: String) -> WardenConfiguration {
        var config = WardenConfiguration(
            listen: ListenAddress(host: "127.0.0.1", port: 4000),
            dataDir: "./warden-data",
            keys: [],
            providers: [(name: "mock", config: ProviderConfiguration(type: .mock))],
            models: [
                (name: "mock-small", config: ModelConfiguration(deployments: [DeploymentConfiguration(provider: "mock", model: "mock-small")])),
                (name: "mock-large", config: ModelConfiguration(deployments: [DeploymentConfiguration(provider: "mock", model: "mock-large")])),
                (
                    name: "mock-flaky",
                    config: ModelConfiguration(
                        deployments: [DeploymentConfiguration(provider: "mock", model: "fail-503")],
                        fallbacks: ["mock-small"], retries: 1, required: false)
                ),
            ])
        config.baseDirectory = baseDirectory
        return config
    }
}
