import Testing
import WardenCore
import WardenProviders

@testable import WardenServer

@Suite("Route executor")
struct RouteExecutorTests {
    func runtime(breakerFailures: Int) throws -> GatewayRuntime {
        let yaml = """
            providers:
              p: {type: openai, base_url: "http://127.0.0.1:9/v1"}
            models:
              m: {deployments: [{provider: p, model: up}], retries: 0}
            reliability: {breaker_failures: \(breakerFailures)}
            """
        let config = try ConfigurationLoader.parse(yaml: yaml, baseDirectory: "/tmp")
        return try GatewayRuntime.build(config: config, transport: HTTPTransport(), mockBaseURL: nil)
    }

    @Test("failures count against the deployment and open its circuit")
    func failuresOpenCircuit() async throws {
        let runtime = try runtime(breakerFailures: 2)
        let health = DeploymentHealth(failureThreshold: 2, cooldown: .seconds(30))
        let executor = RouteExecutor(runtime: runtime, health: health)
        for _ in 0..<2 {
            await #expect(throws: GatewayError.self) {
                _ = try await executor.run(model: "m", record: RequestRecord()) { _, _ -> Int in
                    throw UpstreamFailure(.retryableStatus(503, "down"), api: .openAI)
                }
            }
        }
        let error = await #expect(throws: GatewayError.self) {
            _ = try await executor.run(model: "m", record: RequestRecord()) { _, _ -> Int in 1 }
        }
        #expect(error?.status == 503, "the circuit is open: no_healthy_deployment")
    }

    @Test("a call cut short because the client left does not count against the deployment")
    func cancellationIsNotAFailure() async throws {
        let runtime = try runtime(breakerFailures: 1)
        let health = DeploymentHealth(failureThreshold: 1, cooldown: .seconds(30))
        let executor = RouteExecutor(runtime: runtime, health: health)
        for _ in 0..<3 {
            let task = Task {
                try await executor.run(model: "m", record: RequestRecord()) { _, _ -> Int in
                    // The attempt notices its task was cancelled and reports the stream as ended.
                    while !Task.isCancelled { await Task.yield() }
                    throw UpstreamFailure(.connection("the upstream ended the stream without any event"), api: .openAI)
                }
            }
            task.cancel()
            await #expect(throws: CancellationError.self) { _ = try await task.value }
        }
        let served = try await executor.run(model: "m", record: RequestRecord()) { _, _ -> Int in 42 }
        #expect(served.value == 42)
    }
}
