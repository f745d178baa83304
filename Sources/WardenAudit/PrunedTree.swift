/// An RFC 6962 tree whose oldest leaves may be gone: the leaves `[0, prefix.size)` are known only by the
/// compact range kept when they were pruned, the rest by their hashes.
///
/// Roots, inclusion proofs and consistency proofs for any tree size at or above the prefix can still be
/// computed: every subtree they need either lies entirely after the prefix, or lies entirely inside it
/// and is then one of the compact range's subtrees (the RFC's recursion splits at the same powers of
/// two the compact range is made of). Subtree hashes are memoized, so proving every leaf of an export
/// is O(n log n).
public struct PrunedTree: Sendable {
    public let prefix: CompactRange
    public let leaves: [MerkleTree.Hash]
    /// The compact range's subtrees by their leaf range.
    private let prefixNodes: [Range<Int>: MerkleTree.Hash]
    private var memo: [Range<Int>: MerkleTree.Hash] = [:]

    public var size: Int { prefix.size + leaves.count }

    /// - Parameters:
    ///   - prefix: the compact range over the pruned leaves (empty when nothing was pruned).
    ///   - leaves: the leaf hashes from `prefix.size` on, in order.
    public init(prefix: CompactRange = CompactRange(), leaves: [MerkleTree.Hash]) {
        self.prefix = prefix
        self.leaves = leaves
        var nodes: [Range<Int>: MerkleTree.Hash] = [:]
        var start = 0
        var remaining = prefix.size
        for hash in prefix.hashes {
            var width = 1
            while width << 1 <= remaining { width <<= 1 }
            nodes[start..<(start + width)] = hash
            start += width
            remaining -= width
        }
        prefixNodes = nodes
    }

    /// The hash of the subtree over leaves `range` (MTH of RFC 6962), or nil if it needs pruned leaves that
    /// no kept subtree covers.
    public mutating func hash(_ range: Range<Int>) -> MerkleTree.Hash? {
        if range.isEmpty { return MerkleTree.emptyRoot }
        guard range.upperBound <= size else { return nil }
        if let node = prefixNodes[range] { return node }
        if range.count == 1 {
            return range.lowerBound >= prefix.size ? leaves[range.lowerBound - prefix.size] : nil
        }
        if let known = memo[range] { return known }
        let k = MerkleTree.split(range.count)
        guard let left = hash(range.lowerBound..<(range.lowerBound + k)), let right = hash((range.lowerBound + k)..<range.upperBound)
        else { return nil }
        let node = MerkleTree.nodeHash(left, right)
        memo[range] = node
        return node
    }

    /// The root of the tree over the first `size` leaves.
    public mutating func root(size: Int) -> MerkleTree.Hash? { hash(0..<size) }

    /// The inclusion proof of leaf `index` in the tree over the first `treeSize` leaves (RFC 6962 §2.1.1).
    public mutating func inclusionProof(index: Int, treeSize: Int) -> [MerkleTree.Hash]? {
        guard index >= 0, index < treeSize, treeSize <= size else { return nil }
        return path(index, 0..<treeSize)
    }

    private mutating func path(_ index: Int, _ range: Range<Int>) -> [MerkleTree.Hash]? {
        if range.count == 1 { return [] }
        let mid = range.lowerBound + MerkleTree.split(range.count)
        if index < mid {
            guard let rest = path(index, range.lowerBound..<mid), let sibling = hash(mid..<range.upperBound) else { return nil }
            return rest + [sibling]
        }
        guard let rest = path(index, mid..<range.upperBound), let sibling = hash(range.lowerBound..<mid) else { return nil }
        return rest + [sibling]
    }

    /// The consistency proof from the tree of `oldSize` leaves to that of `newSize` (RFC 6962 §2.1.2).
    public mutating func consistencyProof(oldSize: Int, newSize: Int) -> [MerkleTree.Hash]? {
        guard oldSize >= 0, oldSize <= newSize, newSize <= size else { return nil }
        guard oldSize > 0, oldSize < newSize else { return [] }
        return subproof(oldSize, 0..<newSize, complete: true)
    }

    private mutating func subproof(_ m: Int, _ range: Range<Int>, complete: Bool) -> [MerkleTree.Hash]? {
        if m == range.count {
            if complete { return [] }
            return hash(range).map { [$0] }
        }
        let k = MerkleTree.split(range.count)
        let mid = range.lowerBound + k
        if m <= k {
            guard let rest = subproof(m, range.lowerBound..<mid, complete: complete), let right = hash(mid..<range.upperBound)
            else { return nil }
            return rest + [right]
        }
        guard let rest = subproof(m - k, mid..<range.upperBound, complete: false), let left = hash(range.lowerBound..<mid)
        else { return nil }
        return rest + [left]
    }
}
