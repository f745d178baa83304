import Logging
import ServiceLifecycle
import Synchronization
import WardenCore
import WardenProviders
import WardenStore

/// Everything that governs who may spend what: the store, the cached keys and teams, the budget ledger,
/// the rate limiter and the batched usage writer.
public final class Governance: Sendable {
    public let store: SQLStore
    public let identity: IdentityCache
    public let writer: StoreWriter
    public let ledger: any BudgetLedger
    public let limiter: RateLimiter
    public let audit: AuditLog
    let webhooks: WebhookSender
    let alerts: BudgetAlerter
    /// This process's id in reservations and heartbeats.
    public let instanceID: String
    let logger: Logger
    /// Days usage records are kept before the roll-up (`usage.retention_days`, read at start).
    let usageRetentionDays: Int
    /// Model requests refused because the records backlog was full.
    private let refusedForBacklog = Atomic<Int>(0)

    init(
        store: SQLStore, identity: IdentityCache, writer: StoreWriter, ledger: any BudgetLedger, limiter: RateLimiter,
        audit: AuditLog, webhooks: WebhookSender, instanceID: String, usageRetentionDays: Int = 90, logger: Logger
    ) {
        self.usageRetentionDays = usageRetentionDays
        self.store = store
        self.identity = identity
        self.writer = writer
        self.ledger = ledger
        self.limiter = limiter
        self.audit = audit
        self.webhooks = webhooks
        self.alerts = BudgetAlerter(store: store, webhooks: webhooks, audit: audit, logger: logger)
        self.instanceID = instanceID
        self.logger = logger
    }

    /// Opens the governance state for `runtime`: recovers reservations a crash left behind, loads keys.
    ///
    /// PostgreSQL (or `budgets.strict`) uses the shared ledger: every reservation is a transaction, so
    /// budgets hold across replicas. SQLite keeps balances in this process and writes them in batches.
    static func start(store: SQLStore, runtime: GatewayRuntime, transport: HTTPTransport, logger: Logger) async throws -> Governance {
        let config = runtime.config
        let instanceID = KeyMaterial.identifier(prefix: "proc")
        let backlog = config.server.maxRecordBacklog
        let writer = StoreWriter(store: store, logger: logger, capacity: backlog)
        let shared = store.database.dialect == .postgres || runtime.config.budgets.strict
        let ledger: any BudgetLedger
        if shared {
            let s = SharedBudgetLedger(store: store, owner: instanceID)
            try await s.heartbeat(now: WallClock.unixMilliseconds())
            ledger = s
        } else {
            let l = LocalBudgetLedger(store: store, writer: writer, strict: false, owner: instanceID)
            try await l.recoverAbandoned(logger: logger)
            ledger = l
        }
        let identity = try await IdentityCache(store: store, staticKeys: runtime.staticKeys)
        let webhooks = WebhookSender(transport: transport, logger: logger)
        let signer = try AuditSigner.load(config: config, dialect: store.database.dialect, create: true)
        var publisher: CheckpointPublisher?
        if let target = config.audit.publish {
            if target.hasPrefix("http://") || target.hasPrefix("https://") {
                var secret: String?
                if let reference = config.audit.publishSecret {
                    do {
                        secret = try reference.resolve(baseDirectory: config.baseDirectory)
                    } catch {
                        throw ConfigurationError(key: "audit.publish_secret", error.problem)
                    }
                }
                publisher = CheckpointPublisher(target: .webhook(url: target, secret: secret, sender: webhooks), logger: logger)
            } else {
                publisher = CheckpointPublisher(
                    target: .file(SecretReference.absolutePath(target, base: config.baseDirectory)), logger: logger)
            }
        }
        let audit = AuditLog(
            store: store, signer: signer, configuration: config.audit, publisher: publisher, logger: logger, capacity: backlog)
        return Governance(
            store: store, identity: identity, writer: writer, ledger: ledger, limiter: RateLimiter(), audit: audit,
            webhooks: webhooks, instanceID: instanceID, usageRetentionDays: config.usage.retentionDays, logger: logger)
    }

    /// The background services: usage flushing, key refresh, and for the shared ledger heartbeats and
    /// the sweep of reservations left by crashed replicas.
    var services: [any Service] {
        // Shut down in reverse: the audit log's last checkpoint still reaches the webhook sender.
        var out: [any Service] = [
            WebhookService(sender: webhooks),
            AuditLogService(log: audit),
            writer.service,
            UsageRetentionService(store: store, retentionDays: usageRetentionDays, logger: logger),
            IdentityRefreshService(cache: identity, interval: .milliseconds(500), logger: logger),
        ]
        if let shared = ledger as? SharedBudgetLedger { out.append(LedgerMaintenanceService(ledger: shared, logger: logger)) }
        return out
    }

    /// Records (usage and audit) waiting for the store, and the most that may wait.
    var recordBacklog: (usage: Int, audit: Int, limit: Int) {
        (writer.backlog, audit.backlog, writer.queue.capacity)
    }

    /// Whether a backlog of records has reached its limit (the store is down or too slow).
    var isBacklogFull: Bool { writer.queue.isSaturated || audit.pending.isSaturated }

    /// Refuses a model request while the records of answered requests cannot be written: 503
    /// `store_unavailable` (`x-should-retry: true`). What is answered is always recorded; what would
    /// add to a full backlog is not started.
    func admitRecords() throws(GatewayError) {
        guard isBacklogFull else { return }
        let refused = refusedForBacklog.wrappingAdd(1, ordering: .relaxed).newValue
        if refused == 1 || refused % 1000 == 0 {
            let backlog = recordBacklog
            logger.error(
                "refusing model requests: the store cannot keep up",
                metadata: ["warden.usage_backlog": "\(backlog.usage)", "warden.audit_backlog": "\(backlog.audit)", "warden.refused": "\(refused)"])
        }
        throw GatewayError.storeUnavailable()
    }

    /// Model requests refused so far because the backlog was full.
    var refusedForFullBacklog: Int { refusedForBacklog.load(ordering: .relaxed) }

    /// The budgets that apply to a principal.
    func budgetScopes(for principal: Principal) -> [BudgetScope] {
        var scopes: [BudgetScope] = []
        if let budget = principal.budget {
            scopes.append(BudgetScope(kind: .key, id: principal.keyID, name: principal.keyName, limit: budget))
        }
        if let team = identity.team(named: principal.team), let budget = team.budget {
            scopes.append(BudgetScope(kind: .team, id: team.name, name: team.name, limit: budget))
        }
        return scopes
    }

    /// The rate limits that apply to a principal.
    func rateLimitScopes(for principal: Principal) -> [RateLimitScope] {
        var scopes = [
            RateLimitScope(
                ledgerKey: "key:\(principal.keyID)", label: "key '\(principal.keyName)'", rpm: principal.rpm, tpm: principal.tpm)
        ]
        if let team = identity.team(named: principal.team), team.rpm != nil || team.tpm != nil {
            scopes.append(RateLimitScope(ledgerKey: "team:\(team.name)", label: "team '\(team.name)'", rpm: team.rpm, tpm: team.tpm))
        }
        return scopes
    }
}

/// Rolls usage records older than `usage.retention_days` into daily aggregates, at start and hourly.
struct UsageRetentionService: Service {
    let store: SQLStore
    let retentionDays: Int
    let logger: Logger

    /// The first UTC day whose records are kept at `now`.
    static func cutoffDay(now: Int64, retentionDays: Int) -> Int64 {
        now / 86_400_000 - Int64(retentionDays)
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let cutoff = Self.cutoffDay(now: WallClock.unixMilliseconds(), retentionDays: retentionDays)
                    let moved = try await store.rollUpUsage(beforeDay: cutoff)
                    if moved > 0 {
                        logger.notice("rolled usage records past retention into daily aggregates", metadata: ["warden.records": "\(moved)"])
                    }
                } catch where !(error is CancellationError) {
                    logger.error("usage roll-up failed; will retry", metadata: ["error": "\(error)"])
                } catch {}
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}

/// Keeps this replica's heartbeat fresh and counts reservations of dead replicas as spent.
struct LedgerMaintenanceService: Service {
    let ledger: SharedBudgetLedger
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                if Task.isCancelled { break }
                let now = WallClock.unixMilliseconds()
                do {
                    try await ledger.heartbeat(now: now)
                    let swept = try await ledger.sweepAbandoned(staleAfter: 30_000, now: now)
                    if swept > 0 {
                        logger.notice("counted reservations of a stopped replica as spent", metadata: ["warden.reservations": "\(swept)"])
                    }
                } catch where !(error is CancellationError) {
                    logger.warning("budget ledger maintenance failed", metadata: ["error": "\(error)"])
                } catch {}
            }
        }
    }
}
