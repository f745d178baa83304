/// A spending limit over a calendar period.
public struct BudgetLimit: Sendable, Hashable {
    public var amount: NanoDollars
    public var period: BudgetPeriod

    public init(amount: NanoDollars, period: BudgetPeriod) {
        self.amount = amount
        self.period = period
    }
}

/// A team: the unit budgets, limits and spend reports roll up to.
public struct TeamRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var budget: BudgetLimit?
    public var rpm: Int?
    public var tpm: Int?
    /// Free-form labels and metadata, for policies (`principal.team` attributes).
    public var tags: [String]
    public var metadata: [String: String]
    public var createdAt: Int64
    public var updatedAt: Int64
    /// The team's own guardrails (JSON, the `guardrails:` shape), added to the global ones.
    public var guardrails: String?

    public init(
        id: String, name: String, budget: BudgetLimit? = nil, rpm: Int? = nil, tpm: Int? = nil, tags: [String] = [],
        metadata: [String: String] = [:], createdAt: Int64, updatedAt: Int64, guardrails: String? = nil
    ) {
        self.guardrails = guardrails
        self.id = id
        self.name = name
        self.budget = budget
        self.rpm = rpm
        self.tpm = tpm
        self.tags = tags
        self.metadata = metadata
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What one request used and cost, as recorded for spend reports and budgets.
public struct UsageRecord: Sendable, Equatable {
    public var requestID: String
    /// Unix milliseconds.
    public var at: Int64
    public var keyID: String
    public var keyName: String
    public var team: String
    /// The model the client asked for.
    public var model: String
    /// `provider/upstream-model` that served, if any did.
    public var deployment: String?
    public var usage: Usage
    public var cost: NanoDollars
    public var status: Int

    public init(
        requestID: String, at: Int64, keyID: String, keyName: String, team: String, model: String, deployment: String?,
        usage: Usage, cost: NanoDollars, status: Int
    ) {
        self.requestID = requestID
        self.at = at
        self.keyID = keyID
        self.keyName = keyName
        self.team = team
        self.model = model
        self.deployment = deployment
        self.usage = usage
        self.cost = cost
        self.status = status
    }
}

/// A budget reservation recorded for crash safety: one found without its settlement after a restart
/// counts as spent at its reserved amount.
public struct ReservationRecord: Sendable, Equatable {
    public var id: String
    public var at: Int64
    public var keyID: String
    public var team: String
    public var amount: NanoDollars
    /// The Warden process that made it.
    public var owner: String
    /// The budget rows it holds, `scope@periodStart` joined by `;` (for the shared ledger's settlement).
    public var scopes: String

    public init(id: String, at: Int64, keyID: String, team: String, amount: NanoDollars, owner: String, scopes: String = "") {
        self.id = id
        self.at = at
        self.keyID = keyID
        self.team = team
        self.amount = amount
        self.owner = owner
        self.scopes = scopes
    }
}

/// A row of `GET /admin/spend`.
public struct SpendRow: Sendable, Equatable {
    /// The model, or the UTC day (`2026-11-29`), or nil when not grouped.
    public var group: String?
    public var requests: Int
    public var promptTokens: Int
    public var completionTokens: Int
    public var cost: NanoDollars

    public init(group: String?, requests: Int, promptTokens: Int, completionTokens: Int, cost: NanoDollars) {
        self.group = group
        self.requests = requests
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cost = cost
    }
}

/// Filters of a spend report.
public struct SpendQuery: Sendable {
    public enum Grouping: String, Sendable { case model, day, team, key }
    public var team: String?
    public var keyID: String?
    /// Unix milliseconds, inclusive.
    public var from: Int64?
    /// Unix milliseconds, exclusive.
    public var to: Int64?
    public var groupBy: Grouping?

    public init(team: String? = nil, keyID: String? = nil, from: Int64? = nil, to: Int64? = nil, groupBy: Grouping? = nil) {
        self.team = team
        self.keyID = keyID
        self.from = from
        self.to = to
        self.groupBy = groupBy
    }
}
