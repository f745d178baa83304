import Logging
import Synchronization
import WardenCore
import WardenStore

/// Sends a budget alert webhook when a key's or team's spend in a period first reaches each threshold
/// (`budgets.alerts.thresholds`, default 50, 80 and 100 %).
///
/// Each (scope, period, threshold) fires once, across restarts and replicas: the first process to record
/// it in the store's settings sends it. Checking is in memory on the request path; only a crossing not
/// seen before touches the store, off the request path.
final class BudgetAlerter: Sendable {
    let store: SQLStore
    let webhooks: WebhookSender
    let audit: AuditLog
    let logger: Logger
    /// Alerts this process knows were sent (by it or another replica).
    private let fired = Mutex<Set<String>>([])

    init(store: SQLStore, webhooks: WebhookSender, audit: AuditLog, logger: Logger) {
        self.store = store
        self.webhooks = webhooks
        self.audit = audit
        self.logger = logger
    }

    /// Checks spend after a settlement against the thresholds.
    func observe(_ spends: [ScopeSpend], runtime: GatewayRuntime) {
        guard let alerts = runtime.config.budgets.alerts, !spends.isEmpty else { return }
        for spend in spends {
            let limit = spend.scope.limit.amount
            guard limit > 0 else { continue }
            // Integer percent, rounded down: 80 % fires at exactly 80 % of the budget, never before.
            let percent = spend.spent >= limit ? 100 : Int(Int128(spend.spent) * 100 / Int128(limit))
            for threshold in alerts.thresholds where percent >= threshold {
                let id = "budget_alert:\(spend.scope.ledgerKey):\(spend.periodStart):\(threshold)"
                let isNew = fired.withLock { $0.insert(id).inserted }
                guard isNew else { continue }
                let url = alerts.webhook
                let secret = runtime.alertSecret
                Task {
                    await self.fire(id: id, spend: spend, threshold: threshold, url: url, secret: secret)
                }
            }
        }
    }

    private func fire(id: String, spend: ScopeSpend, threshold: Int, url: String, secret: String?) async {
        let now = WallClock.unixMilliseconds()
        let claim = KeyMaterial.identifier(prefix: "alert")
        do {
            // One process wins the claim; the others learn the alert was sent.
            guard try await store.settingIfAbsent(id, claim) == claim else { return }
        } catch {
            logger.warning("cannot record a budget alert; sending it anyway", metadata: ["error": "\(error)"])
        }
        let scope = spend.scope
        let body: JSONObject = [
            "type": "budget.threshold", "scope": .string(scope.kind.rawValue), "id": .string(scope.id), "name": .string(scope.name),
            "threshold_percent": .int(threshold), "spent_usd": .number(spend.spent.usdString),
            "budget_usd": .number(scope.limit.amount.usdString), "period": .string(scope.limit.period.rawValue),
            "period_start": .string(WallClock.rfc3339(unixMilliseconds: spend.periodStart)),
            "resets_at": scope.limit.period.end(containing: now).map { .string(WallClock.rfc3339(unixMilliseconds: $0)) } ?? .null,
            "at": .string(WallClock.rfc3339(unixMilliseconds: now)),
        ]
        webhooks.send(url: url, secret: secret, event: "budget.threshold", body: body)
        audit.append(
            kind: "budget_alert",
            fields: [
                "scope": .string(scope.ledgerKey), "threshold_percent": .int(threshold), "spent_usd": .string(spend.spent.usdString),
                "budget_usd": .string(scope.limit.amount.usdString),
            ])
        logger.notice(
            "budget alert", metadata: ["warden.budget.scope": "\(scope.ledgerKey)", "warden.budget.threshold": "\(threshold)"])
    }
}
