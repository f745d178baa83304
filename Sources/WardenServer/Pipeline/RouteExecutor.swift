import Synchronization
import WardenCore
import WardenProviders

/// Runs one call against a model with Warden's reliability policy: weighted choice of deployment
/// (skipping open circuits), retries with backoff rotating deployments, then fallback models.
/// Nothing here writes to the client, so everything happens before the client's first byte.
struct RouteExecutor: Sendable {
    let runtime: GatewayRuntime
    let health: DeploymentHealth

    struct Served<T: Sendable>: Sendable {
        var value: T
        var model: RouteModel
        var deployment: RouteDeployment
    }

    func run<T: Sendable>(
        model name: String, record: RequestRecord,
        attempt: (RouteDeployment, RouteModel) async throws -> T
    ) async throws -> Served<T> {
        guard let primary = runtime.models[name] else { throw GatewayError.modelNotFound(name) }
        let denied = record.state.deniedModels
        var machine = RetryStateMachine(
            steps: denied.isEmpty ? primary.retrySteps : primary.retrySteps.filter { !denied.contains($0.model) },
            contextSteps: denied.isEmpty ? primary.contextSteps : primary.contextSteps.filter { !denied.contains($0.model) },
            backoff: runtime.backoff)
        var action = machine.start()
        // Deployments already tried, per model; filled only when a request needs a second attempt.
        var tried: [(model: String, index: Int)] = []
        var current: (model: String, index: Int)?
        var lastFailure: UpstreamFailure?
        var lastModel = name
        while true {
            switch action {
            case .giveUp(let failure):
                throw finalError(failure, last: lastFailure, model: lastModel)
            case .attempt(let modelName, let delay, let isFallback):
                lastModel = modelName
                if delay > .zero {
                    let start = ContinuousClock.now
                    try await Task.sleep(for: delay)
                    record.updateTrace { $0.backoff += ContinuousClock.now - start }
                }
                guard let model = runtime.models[modelName] else {
                    action = machine.next(after: .noHealthyDeployment, jitter: .random(in: 0...1))
                    continue
                }
                if let previous = current { tried.append(previous) }
                current = nil
                let triedHere = tried.isEmpty ? [] : tried.filter { $0.model == modelName }.map(\.index)
                guard let index = pickDeployment(model, tried: triedHere) else {
                    action = machine.next(after: .noHealthyDeployment, jitter: .random(in: 0...1))
                    continue
                }
                current = (modelName, index)
                let deployment = model.deployments[index]
                record.updateTrace {
                    $0.attempts += 1
                    $0.servedModel = modelName
                    $0.provider = deployment.providerName
                    $0.upstreamModel = deployment.upstreamModel
                    $0.pricing = deployment.pricing
                    $0.isFallback = isFallback
                }
                let start = ContinuousClock.now
                do {
                    let value = try await attempt(deployment, model)
                    let end = ContinuousClock.now
                    record.updateTrace { $0.upstream += end - start }
                    health.recordSuccess(deployment.healthKey)
                    return Served(value: value, model: model, deployment: deployment)
                } catch let failure as UpstreamFailure {
                    let end = ContinuousClock.now
                    record.updateTrace { $0.upstream += end - start }
                    // A call cut short because the client left says nothing about the deployment.
                    if Task.isCancelled { throw CancellationError() }
                    if failure.countsAgainstDeployment {
                        health.recordFailure(deployment.healthKey, now: end)
                    } else {
                        health.recordSuccess(deployment.healthKey)
                    }
                    lastFailure = failure
                    action = machine.next(after: failure.failure, jitter: .random(in: 0...1))
                } catch {
                    let end = ContinuousClock.now
                    record.updateTrace { $0.upstream += end - start }
                    throw error
                }
            }
        }
    }

    /// Weighted choice among available deployments not yet tried for this model (then any available).
    private func pickDeployment(_ model: RouteModel, tried: [Int]) -> Int? {
        let now = ContinuousClock.now
        var excluded = tried
        for _ in 0..<model.deployments.count {
            guard
                let index = DeploymentPicker.pick(
                    weights: model.weights,
                    isAvailable: { i in
                        !(excluded.count > tried.count && excluded[tried.count...].contains(i))
                            && health.isAvailable(model.deployments[i].healthKey, now: now)
                    },
                    tried: excluded, draw: .random(in: 0..<1))
            else { return nil }
            if health.acquire(model.deployments[index].healthKey, now: now) { return index }
            excluded.append(index)  // lost the half-open trial to another request
        }
        return nil
    }

    private func finalError(_ failure: AttemptFailure, last: UpstreamFailure?, model: String) -> GatewayError {
        switch failure {
        case .callerError, .contextTooLong:
            let status = last?.status ?? 400
            let message =
                last?.body?["error"]?["message"]?.stringValue ?? "The upstream rejected the request (\(status))."
            return .upstreamClientError(status: status, body: last?.body, api: last?.api ?? .openAI, message: message)
        default:
            return failure.gatewayError(model: model)
        }
    }
}
