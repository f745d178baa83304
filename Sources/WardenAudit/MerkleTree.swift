import Crypto

/// RFC 6962 (Certificate Transparency) Merkle tree hashing, inclusion and consistency proofs.
///
/// Leaves are hashed `SHA-256(0x00 ‖ data)` and interior nodes `SHA-256(0x01 ‖ left ‖ right)`, so a leaf
/// can never be passed off as a node. The tree over `n` leaves splits at the largest power of two
/// smaller than `n` (RFC 6962 §2.1).
public enum MerkleTree {
    public typealias Hash = [UInt8]

    public static func leafHash(_ data: some Sequence<UInt8>) -> Hash {
        var h = SHA256()
        h.update(data: [0x00])
        h.update(data: Array(data))
        return Array(h.finalize())
    }

    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        var h = SHA256()
        h.update(data: [0x01])
        h.update(data: left)
        h.update(data: right)
        return Array(h.finalize())
    }

    /// The root of the empty tree: SHA-256 of the empty string.
    public static var emptyRoot: Hash { Array(SHA256.hash(data: [UInt8]())) }

    /// The largest power of two strictly smaller than `n` (n ≥ 2).
    static func split(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// The root over leaf hashes.
    public static func root(_ leaves: ArraySlice<Hash>) -> Hash {
        switch leaves.count {
        case 0: return emptyRoot
        case 1: return leaves[leaves.startIndex]
        default:
            let k = split(leaves.count)
            let mid = leaves.startIndex + k
            return nodeHash(root(leaves[leaves.startIndex..<mid]), root(leaves[mid...]))
        }
    }

    public static func root(_ leaves: [Hash]) -> Hash { root(leaves[...]) }

    /// The audit path proving leaf `index` is in the tree over `leaves` (RFC 6962 §2.1.1).
    public static func inclusionProof(index: Int, leaves: ArraySlice<Hash>) -> [Hash] {
        precondition(index >= 0 && index < leaves.count)
        if leaves.count == 1 { return [] }
        let k = split(leaves.count)
        let mid = leaves.startIndex + k
        if index < k {
            return inclusionProof(index: index, leaves: leaves[leaves.startIndex..<mid]) + [root(leaves[mid...])]
        }
        return inclusionProof(index: index - k, leaves: leaves[mid...]) + [root(leaves[leaves.startIndex..<mid])]
    }

    /// Checks an inclusion proof (RFC 9162 §2.1.3.2).
    public static func verifyInclusion(leaf: Hash, index: Int, treeSize: Int, proof: [Hash], root expected: Hash) -> Bool {
        guard index >= 0, index < treeSize else { return false }
        var fn = index
        var sn = treeSize - 1
        var r = leaf
        for p in proof {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0, fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 && r == expected
    }

    /// The consistency proof between the tree of the first `oldSize` leaves and the whole tree
    /// (RFC 6962 §2.1.2).
    public static func consistencyProof(oldSize: Int, leaves: ArraySlice<Hash>) -> [Hash] {
        precondition(oldSize >= 0 && oldSize <= leaves.count)
        guard oldSize > 0, oldSize < leaves.count else { return [] }
        return subproof(m: oldSize, leaves: leaves, complete: true)
    }

    private static func subproof(m: Int, leaves: ArraySlice<Hash>, complete: Bool) -> [Hash] {
        let n = leaves.count
        if m == n { return complete ? [] : [root(leaves)] }
        let k = split(n)
        let mid = leaves.startIndex + k
        if m <= k {
            return subproof(m: m, leaves: leaves[leaves.startIndex..<mid], complete: complete) + [root(leaves[mid...])]
        }
        return subproof(m: m - k, leaves: leaves[mid...], complete: false) + [root(leaves[leaves.startIndex..<mid])]
    }

    /// Checks a consistency proof (RFC 9162 §2.1.4.2).
    public static func verifyConsistency(oldSize: Int, newSize: Int, oldRoot: Hash, newRoot: Hash, proof: [Hash]) -> Bool {
        if oldSize == newSize { return proof.isEmpty && oldRoot == newRoot }
        guard oldSize > 0, oldSize < newSize else { return oldSize == 0 && proof.isEmpty }
        guard !proof.isEmpty else { return false }
        var proof = proof
        if oldSize & (oldSize - 1) == 0 { proof.insert(oldRoot, at: 0) }  // power of two: the old root starts it
        var fn = oldSize - 1
        var sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = proof[0]
        var sr = proof[0]
        for c in proof.dropFirst() {
            if sn == 0 { return false }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0, fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        return fr == oldRoot && sr == newRoot && sn == 0
    }
}
