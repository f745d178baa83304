import Foundation
import WardenCore

extension SQLStore {
    static let keyColumns =
        "id, name, team, key_hash, key_prefix, models, created_at, expires_at, revoked_at, budget_nano, budget_period, rpm, tpm, metadata, rotated_from, tags, guardrails"

    static func key(from row: SQLRow) -> StoredKey {
        StoredKey(
            id: row.string("id") ?? "", name: row.string("name") ?? "", team: row.string("team") ?? "",
            hash: row.string("key_hash") ?? "", prefix: row.string("key_prefix") ?? "",
            models: row.string("models").flatMap { $0.isEmpty ? nil : $0.split(separator: "\n").map(String.init) },
            createdAt: row.int("created_at") ?? 0, expiresAt: row.int("expires_at"), revokedAt: row.int("revoked_at"),
            budget: budget(row), rpm: row.int("rpm").map(Int.init), tpm: row.int("tpm").map(Int.init),
            metadata: decodeMetadata(row.string("metadata")), tags: decodeTags(row.string("tags")), rotatedFrom: row.string("rotated_from"), guardrails: row.string("guardrails"))
    }

    static func decodeTags(_ text: String?) -> [String] {
        guard let text, let array = (try? JSONParser.parse(text))?.arrayValue else { return [] }
        return array.compactMap(\.stringValue)
    }

    static func encodeTags(_ tags: [String]) -> SQLValue {
        guard !tags.isEmpty else { return .null }
        return .text(JSONValue.array(tags.map { .string($0) }).jsonString)
    }

    static func budget(_ row: SQLRow) -> BudgetLimit? {
        guard let amount = row.int("budget_nano"), let period = row.string("budget_period").flatMap(BudgetPeriod.init) else {
            return nil
        }
        return BudgetLimit(amount: amount, period: period)
    }

    static func decodeMetadata(_ text: String?) -> [String: String] {
        guard let text, let object = (try? JSONParser.parse(text))?.objectValue else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in object { if let s = v.stringValue { out[k] = s } }
        return out
    }

    static func encodeMetadata(_ metadata: [String: String]) -> SQLValue {
        guard !metadata.isEmpty else { return .null }
        var object = JSONObject()
        for (k, v) in metadata.sorted(by: { $0.key < $1.key }) { object[k] = .string(v) }
        return .text(object.jsonString)
    }

    static func keyBinds(_ key: StoredKey) -> [SQLValue] {
        [
            .text(key.id), .text(key.name), .text(key.team), .text(key.hash), .text(key.prefix),
            key.models.map { .text($0.joined(separator: "\n")) } ?? .null, .int(key.createdAt), .optional(key.expiresAt),
            .optional(key.revokedAt), .optional(key.budget?.amount), .optional(key.budget?.period.rawValue),
            .optional(key.rpm), .optional(key.tpm), encodeMetadata(key.metadata), .optional(key.rotatedFrom), encodeTags(key.tags),
            .optional(key.guardrails),
        ]
    }

    // MARK: KeyStore

    public func activeKeys() async throws -> [StoredKey] {
        try await database.query("SELECT \(Self.keyColumns) FROM api_keys WHERE revoked_at IS NULL", []).map(Self.key)
    }

    public func allKeys() async throws -> [StoredKey] {
        try await database.query("SELECT \(Self.keyColumns) FROM api_keys ORDER BY created_at, id", []).map(Self.key)
    }

    public func key(id: String) async throws -> StoredKey? {
        try await database.query("SELECT \(Self.keyColumns) FROM api_keys WHERE id = ?", [.text(id)]).first.map(Self.key)
    }

    public func insert(_ key: StoredKey) async throws {
        try await database.transaction { db in
            try await db.query(
                "INSERT INTO api_keys (\(Self.keyColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                Self.keyBinds(key))
            try await Self.bumpChangeCounter(db)
        }
    }

    /// Replaces a key's editable fields (everything but its id, hash and prefix).
    public func update(_ key: StoredKey) async throws {
        try await database.transaction { db in
            try await db.query(
                """
                UPDATE api_keys SET name = ?, team = ?, models = ?, expires_at = ?, revoked_at = ?, budget_nano = ?,
                budget_period = ?, rpm = ?, tpm = ?, metadata = ?, rotated_from = ?, tags = ?, guardrails = ? WHERE id = ?
                """,
                [
                    .text(key.name), .text(key.team), key.models.map { .text($0.joined(separator: "\n")) } ?? .null,
                    .optional(key.expiresAt), .optional(key.revokedAt), .optional(key.budget?.amount),
                    .optional(key.budget?.period.rawValue), .optional(key.rpm), .optional(key.tpm),
                    Self.encodeMetadata(key.metadata), .optional(key.rotatedFrom), Self.encodeTags(key.tags), .optional(key.guardrails),
                    .text(key.id),
                ])
            try await Self.bumpChangeCounter(db)
        }
    }

    public func keyCount() async throws -> Int {
        Int(try await database.query("SELECT COUNT(*) AS n FROM api_keys", []).first?.int("n") ?? 0)
    }

    // MARK: Teams

    static let teamColumns = "id, name, budget_nano, budget_period, rpm, tpm, created_at, updated_at, tags, metadata, guardrails"

    static func team(from row: SQLRow) -> TeamRecord {
        TeamRecord(
            id: row.string("id") ?? "", name: row.string("name") ?? "", budget: budget(row),
            rpm: row.int("rpm").map(Int.init), tpm: row.int("tpm").map(Int.init), tags: decodeTags(row.string("tags")),
            metadata: decodeMetadata(row.string("metadata")), createdAt: row.int("created_at") ?? 0, updatedAt: row.int("updated_at") ?? 0,
            guardrails: row.string("guardrails"))
    }

    public func teams() async throws -> [TeamRecord] {
        try await database.query("SELECT \(Self.teamColumns) FROM teams ORDER BY name", []).map(Self.team)
    }

    public func team(named name: String) async throws -> TeamRecord? {
        try await database.query("SELECT \(Self.teamColumns) FROM teams WHERE name = ?", [.text(name)]).first.map(Self.team)
    }

    public func insert(_ team: TeamRecord) async throws {
        try await database.transaction { db in
            try await db.query(
                "INSERT INTO teams (\(Self.teamColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(team.id), .text(team.name), .optional(team.budget?.amount), .optional(team.budget?.period.rawValue),
                    .optional(team.rpm), .optional(team.tpm), .int(team.createdAt), .int(team.updatedAt), Self.encodeTags(team.tags),
                    Self.encodeMetadata(team.metadata), .optional(team.guardrails),
                ])
            try await Self.bumpChangeCounter(db)
        }
    }

    public func update(_ team: TeamRecord) async throws {
        try await database.transaction { db in
            try await db.query(
                "UPDATE teams SET budget_nano = ?, budget_period = ?, rpm = ?, tpm = ?, updated_at = ?, tags = ?, metadata = ?, guardrails = ? WHERE id = ?",
                [
                    .optional(team.budget?.amount), .optional(team.budget?.period.rawValue), .optional(team.rpm),
                    .optional(team.tpm), .int(team.updatedAt), Self.encodeTags(team.tags), Self.encodeMetadata(team.metadata),
                    .optional(team.guardrails), .text(team.id),
                ])
            try await Self.bumpChangeCounter(db)
        }
    }
}
