/// The running state of an append-only RFC 6962 tree: the roots of the perfect subtrees that cover
/// leaves `[0, size)` (at most log₂(size) hashes).
///
/// Appending a leaf and computing the root are O(log n), so the audit writer never rereads old leaves,
/// and after old leaves are pruned these hashes are all that is needed to keep verifying the rest.
public struct CompactRange: Sendable, Equatable {
    public private(set) var size: Int
    /// Subtree roots, largest (leftmost) first.
    public private(set) var hashes: [MerkleTree.Hash]

    public init() {
        size = 0
        hashes = []
    }

    /// Restores a range from stored state; `hashes.count` must equal the number of set bits of `size`.
    public init?(size: Int, hashes: [MerkleTree.Hash]) {
        guard size >= 0, size.nonzeroBitCount == hashes.count else { return nil }
        self.size = size
        self.hashes = hashes
    }

    /// Appends one leaf hash, merging equal-sized subtrees.
    public mutating func append(_ leaf: MerkleTree.Hash) {
        var node = leaf
        var n = size
        // Each trailing 1 bit of the old size is a subtree of the same size as `node` that now merges.
        while n & 1 == 1 {
            node = MerkleTree.nodeHash(hashes.removeLast(), node)
            n >>= 1
        }
        hashes.append(node)
        size += 1
    }

    /// The root of the tree over `[0, size)`: the subtree roots folded right to left.
    public var root: MerkleTree.Hash {
        guard var node = hashes.last else { return MerkleTree.emptyRoot }
        for h in hashes.dropLast().reversed() { node = MerkleTree.nodeHash(h, node) }
        return node
    }
}
