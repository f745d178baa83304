import WardenCore

/// Builds audit records: assigns each its position, links it to its predecessor and keeps the Merkle
/// tree's running state, so a checkpoint's root is available at any moment.
public struct AuditChain: Sendable {
    public private(set) var range: CompactRange
    public private(set) var lastLeafHash: [UInt8]?

    public init(range: CompactRange = CompactRange(), lastLeafHash: [UInt8]? = nil) {
        self.range = range
        self.lastLeafHash = lastLeafHash
    }

    /// The next record's position.
    public var nextSeq: Int { range.size }

    /// Seals `fields` into the next record: adds `seq` and `prev`, canonicalizes (RFC 8785) and hashes.
    public mutating func append(_ fields: JSONObject) -> StoredAuditRecord {
        var object = fields
        object["seq"] = .int(range.size)
        object["prev"] = .string(lastLeafHash.map(AuditVerifier.hex) ?? "")
        let body = CanonicalJSON.bytes(.object(object))
        let leaf = MerkleTree.leafHash(body)
        let record = StoredAuditRecord(seq: range.size, body: body, leafHash: leaf)
        range.append(leaf)
        lastLeafHash = leaf
        return record
    }

    /// The checkpoint of everything appended so far.
    public func checkpoint(origin: String) -> Checkpoint {
        Checkpoint(origin: origin, size: range.size, root: range.root)
    }
}
