import WardenCore

/// Builds audit records: assigns each its position, links it to its predecessor and keeps the Merkle
/// tree's running state, so a checkpoint's root is available at any moment.
public struct AuditChain: Sendable, Equatable {
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

/// The audit log's running state as the store keeps it between writes (and across replicas): the
/// chain's Merkle frontier and last leaf hash, and where the last checkpoint was signed.
public struct AuditState: Sendable, Equatable {
    public var chain: AuditChain
    public var checkpointSize: Int
    public var checkpointAt: Int64

    public init(chain: AuditChain = AuditChain(), checkpointSize: Int = 0, checkpointAt: Int64 = 0) {
        self.chain = chain
        self.checkpointSize = checkpointSize
        self.checkpointAt = checkpointAt
    }

    public struct Malformed: Error, CustomStringConvertible {
        public var description: String { "the stored audit log state is malformed" }
    }

    /// Reads the stored text; "" is the empty log.
    public init(text: String) throws {
        guard !text.isEmpty else {
            self.init()
            return
        }
        // Sizes beyond 2⁶² cannot be real and would overflow the tree's arithmetic.
        guard let json = try? JSONParser.parse(text), let size = json["size"]?.intValue, (0..<(1 << 62)).contains(size),
            let frontier = json["frontier"]?.arrayValue?.compactMap({ $0.stringValue.flatMap(AuditVerifier.bytes(hex:)) }),
            let range = CompactRange(size: size, hashes: frontier)
        else { throw Malformed() }
        let last = json["last"]?.stringValue.flatMap(AuditVerifier.bytes(hex:))
        self.init(
            chain: AuditChain(range: range, lastLeafHash: last?.isEmpty == false ? last : nil),
            checkpointSize: json["checkpoint_size"]?.intValue ?? 0,
            checkpointAt: Int64(json["checkpoint_at"]?.intValue ?? 0))
    }

    public var text: String {
        let object: JSONObject = [
            "size": .int(chain.range.size),
            "frontier": .array(chain.range.hashes.map { .string(AuditVerifier.hex($0)) }),
            "last": .string(chain.lastLeafHash.map(AuditVerifier.hex) ?? ""),
            "checkpoint_size": .int(checkpointSize),
            "checkpoint_at": .int(Int(checkpointAt)),
        ]
        return String(decoding: CanonicalJSON.bytes(.object(object)), as: UTF8.self)
    }

    /// Where a verification of the records after this state starts.
    public var verifierStart: AuditVerifier.Start {
        AuditVerifier.Start(range: chain.range, previousLeafHash: chain.lastLeafHash)
    }
}
