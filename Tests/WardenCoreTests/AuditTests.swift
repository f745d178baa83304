import Crypto
import Foundation
import Testing
import WardenCore

@testable import WardenAudit

@Suite("Merkle tree (RFC 6962)")
struct MerkleTreeTests {
    /// The Certificate Transparency test leaves and the roots of their prefixes.
    static let leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
        .map(bytes(hex:))
    static let roots = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    @Test("roots match the Certificate Transparency test vectors; the compact range agrees")
    func vectors() {
        let hashes = Self.leaves.map { MerkleTree.leafHash($0) }
        var range = CompactRange()
        #expect(AuditVerifier.hex(range.root) == Self.roots[0])
        for n in 1...8 {
            #expect(AuditVerifier.hex(MerkleTree.root(Array(hashes.prefix(n)))) == Self.roots[n])
            range.append(hashes[n - 1])
            #expect(AuditVerifier.hex(range.root) == Self.roots[n], "compact range at \(n)")
        }
    }

    @Test("inclusion and consistency proofs verify for every size and index up to 33, and fail when tampered")
    func proofs() {
        let hashes = (0..<33).map { MerkleTree.leafHash(Array("leaf \($0)".utf8)) }
        for n in 1...33 {
            let root = MerkleTree.root(Array(hashes.prefix(n)))
            for i in 0..<n {
                let proof = MerkleTree.inclusionProof(index: i, leaves: hashes.prefix(n))
                #expect(MerkleTree.verifyInclusion(leaf: hashes[i], index: i, treeSize: n, proof: proof, root: root))
                #expect(!MerkleTree.verifyInclusion(leaf: hashes[(i + 1) % 33], index: i, treeSize: n, proof: proof, root: root))
            }
            for m in 1...n {
                let old = MerkleTree.root(Array(hashes.prefix(m)))
                let proof = MerkleTree.consistencyProof(oldSize: m, leaves: hashes.prefix(n))
                #expect(MerkleTree.verifyConsistency(oldSize: m, newSize: n, oldRoot: old, newRoot: root, proof: proof), "\(m) → \(n)")
                if m < n {
                    let bogus = [UInt8](repeating: 0xAB, count: 32)
                    #expect(!MerkleTree.verifyConsistency(oldSize: m, newSize: n, oldRoot: bogus, newRoot: root, proof: proof))
                }
            }
        }
    }
}

@Suite("Signed checkpoints (c2sp.org/signed-note)")
struct SignedNoteTests {
    /// golang.org/x/mod/sumdb/note's test key and note.
    static let seed = Data(base64Encoded: "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")!.dropFirst()
    static let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"

    @Test("signing reproduces Go's note package byte for byte, and verification round-trips")
    func goVector() throws {
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: Self.seed)
        #expect(SignedNote.verifierKey(name: "PeterNeumann", publicKey: key.publicKey) == "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        let note = try SignedNote.sign(Self.text, name: "PeterNeumann", key: key)
        #expect(note == Self.text + "\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
        let vkey = SignedNote.verifierKey(name: "PeterNeumann", publicKey: key.publicKey)
        #expect(try SignedNote.verify(note, verifierKey: vkey) == Self.text)
        let tampered = note.replacingOccurrences(of: "problem,", with: "problems,")
        #expect(throws: SignedNote.VerificationError.badSignature) { try SignedNote.verify(tampered, verifierKey: vkey) }
        let other = SignedNote.verifierKey(name: "PeterNeumann", publicKey: Curve25519.Signing.PrivateKey().publicKey)
        #expect(throws: SignedNote.VerificationError.noSignatureByKey) { try SignedNote.verify(note, verifierKey: other) }
    }

    @Test("checkpoint text round-trips")
    func checkpoint() {
        let c = Checkpoint(origin: "warden.example/audit", size: 42, root: Array(repeating: 7, count: 32))
        #expect(Checkpoint(text: c.text) == c)
        #expect(Checkpoint(text: "x\n-1\nAAAA\n") == nil)
    }
}

@Suite("Canonical JSON (RFC 8785)")
struct CanonicalJSONTests {
    @Test("members sorted by UTF-16 code units, minimal escapes, ECMAScript numbers")
    func canonical() throws {
        let value = try JSONParser.parse(#"{"b":[1.0,1e3,0.1,-0,1e-7,123456789012345680000,1.5e300],"a":"é\n\u0001","\u20ac":1,"\ud83d\ude00":2,"ab":true}"#)
        let text = String(decoding: CanonicalJSON.bytes(value), as: UTF8.self)
        #expect(text == #"{"a":"é\n\u0001","ab":true,"b":[1,1000,0.1,0,1e-7,123456789012345680000,1.5e+300],"€":1,"😀":2}"#)
    }

    @Test("the byte-order fast path sorts exactly as UTF-16 code units do, private-use and emoji keys included")
    func memberOrder() {
        // U+FF61 (BMP, above the surrogates) sorts after 😀 in UTF-8 but before it in UTF-16.
        let keys = ["", "a", "ab", "b", "Z", "é", "€", "\u{E000}", "\u{FF61}", "😀", "😀a", "\u{10FFFF}", "a\u{FF61}", "a😀", "~"]
        for x in keys {
            for y in keys {
                #expect(CanonicalJSON.precedes(x, y) == x.utf16.lexicographicallyPrecedes(y.utf16), "\(x) vs \(y)")
            }
        }
    }
}

@Suite("Audit verification")
struct AuditVerifierTests {
    let key = Curve25519.Signing.PrivateKey()
    let origin = "warden.test/audit"

    func log(records count: Int, checkpointEvery: Int) throws -> ([StoredAuditRecord], [StoredCheckpoint]) {
        var chain = AuditChain()
        var records: [StoredAuditRecord] = []
        var checkpoints: [StoredCheckpoint] = []
        for i in 0..<count {
            records.append(chain.append(["kind": "request", "model": "m", "tokens": .int(i)]))
            if (i + 1) % checkpointEvery == 0 {
                let c = chain.checkpoint(origin: origin)
                checkpoints.append(StoredCheckpoint(size: c.size, note: try SignedNote.sign(c.text, name: origin, key: key)))
            }
        }
        return (records, checkpoints)
    }

    var verifier: AuditVerifier { AuditVerifier(verifierKey: SignedNote.verifierKey(name: origin, publicKey: key.publicKey), origin: origin) }

    @Test("an intact log verifies")
    func intact() throws {
        let (records, checkpoints) = try log(records: 25, checkpointEvery: 10)
        #expect(try verifier.verify(records: records, checkpoints: checkpoints) == 25)
    }

    @Test("a changed, removed, swapped or inserted record is named")
    func tampering() throws {
        let (records, checkpoints) = try log(records: 25, checkpointEvery: 10)
        func rewrite(_ r: StoredAuditRecord, _ body: (inout JSONObject) -> Void, rehash: Bool) -> StoredAuditRecord {
            var object = try! JSONParser.parse(r.body).objectValue!
            body(&object)
            let bytes = CanonicalJSON.bytes(.object(object))
            return StoredAuditRecord(seq: r.seq, body: bytes, leafHash: rehash ? MerkleTree.leafHash(bytes) : r.leafHash)
        }
        var changed = records
        changed[7] = rewrite(records[7], { $0["tokens"] = 999 }, rehash: false)
        #expect(throws: AuditProblem.recordChanged(seq: 7)) { try verifier.verify(records: changed, checkpoints: checkpoints) }

        var rehashed = records
        rehashed[7] = rewrite(records[7], { $0["tokens"] = 999 }, rehash: true)
        #expect(throws: AuditProblem.recordChanged(seq: 7)) { try verifier.verify(records: rehashed, checkpoints: checkpoints) }

        var removed = records
        removed.remove(at: 12)
        #expect(throws: AuditProblem.recordRemoved(seq: 12)) { try verifier.verify(records: removed, checkpoints: checkpoints) }

        var swapped = records
        swapped[3] = StoredAuditRecord(seq: 3, body: records[4].body, leafHash: records[4].leafHash)
        swapped[4] = StoredAuditRecord(seq: 4, body: records[3].body, leafHash: records[3].leafHash)
        #expect(throws: AuditProblem.recordReordered(seq: 3, claims: 4)) { try verifier.verify(records: swapped, checkpoints: checkpoints) }

        var inserted = records
        inserted.insert(StoredAuditRecord(seq: 5, body: records[5].body, leafHash: records[5].leafHash), at: 6)
        #expect(throws: AuditProblem.recordInserted(seq: 5)) { try verifier.verify(records: inserted, checkpoints: checkpoints) }

        #expect(throws: AuditProblem.recordsTruncated(after: 15, checkpointSize: 20)) {
            try verifier.verify(records: Array(records.prefix(15)), checkpoints: checkpoints)
        }
    }

    @Test("a forged checkpoint is caught: wrong signature, or re-signed over a different root")
    func forgedCheckpoint() throws {
        let (records, checkpoints) = try log(records: 20, checkpointEvery: 10)
        var forged = checkpoints
        forged[1].note = forged[1].note.replacingOccurrences(of: "\n20\n", with: "\n21\n")
        #expect(throws: AuditProblem.self) { try verifier.verify(records: records, checkpoints: forged) }
        var resigned = checkpoints
        let fake = Checkpoint(origin: origin, size: 10, root: Array(repeating: 1, count: 32))
        resigned[0].note = try SignedNote.sign(fake.text, name: origin, key: key)
        #expect(throws: AuditProblem.checkpointInconsistent(size: 10)) { try verifier.verify(records: records, checkpoints: resigned) }
        var otherKey = checkpoints
        otherKey[0].note = try SignedNote.sign(Checkpoint(origin: origin, size: 10, root: []).text, name: origin, key: Curve25519.Signing.PrivateKey())
        #expect(throws: AuditProblem.self) { try verifier.verify(records: records, checkpoints: otherKey) }
    }

    @Test("verification continues from a pruned prefix using the retained subtree hashes")
    func pruned() throws {
        let (records, checkpoints) = try log(records: 30, checkpointEvery: 10)
        var range = CompactRange()
        for r in records.prefix(10) { range.append(r.leafHash) }
        let start = AuditVerifier.Start(range: range, previousLeafHash: records[9].leafHash)
        #expect(try verifier.verify(records: Array(records.dropFirst(10)), checkpoints: checkpoints, start: start) == 30)
        // The kept state must be the one the checkpoint at the boundary signed.
        #expect(throws: AuditProblem.prunedBoundaryUnsigned(size: 10)) {
            try verifier.verify(records: Array(records.dropFirst(10)), checkpoints: checkpoints.filter { $0.size > 10 }, start: start)
        }
        var forged = CompactRange()
        for r in records.prefix(10).reversed() { forged.append(r.leafHash) }
        #expect(throws: AuditProblem.checkpointInconsistent(size: 10)) {
            try verifier.verify(
                records: Array(records.dropFirst(10)), checkpoints: checkpoints,
                start: AuditVerifier.Start(range: forged, previousLeafHash: records[9].leafHash))
        }
    }

    @Test("published copies of checkpoints are checked against the records too")
    func published() throws {
        let (records, checkpoints) = try log(records: 20, checkpointEvery: 10)
        #expect(try verifier.verify(records: records, checkpoints: checkpoints) == 20)
        // A store rewritten and re-signed with the stolen key: its own checkpoints agree, the published copy does not.
        var rewritten: [StoredAuditRecord] = []
        var chain = AuditChain()
        for i in 0..<20 { rewritten.append(chain.append(["kind": "request", "model": "m", "tokens": .int(i == 4 ? 0 : i)])) }
        let resigned = [StoredCheckpoint(size: 20, note: try SignedNote.sign(chain.checkpoint(origin: origin).text, name: origin, key: key))]
        var pass = try verifier.begin(checkpoints: resigned, published: checkpoints)
        #expect(throws: AuditProblem.self) { try pass.feed(rewritten) }
    }

    @Test("a pruned tree proves inclusion and consistency exactly like the full tree")
    func prunedTreeProofs() {
        let leaves = (0..<37).map { MerkleTree.leafHash([UInt8($0)]) }
        for boundary in [0, 1, 5, 8, 13, 16, 21] {
            var prefix = CompactRange()
            for leaf in leaves.prefix(boundary) { prefix.append(leaf) }
            var tree = PrunedTree(prefix: prefix, leaves: Array(leaves.dropFirst(boundary)))
            for size in max(boundary, 1)...leaves.count {
                #expect(tree.root(size: size) == MerkleTree.root(Array(leaves.prefix(size))))
                for index in boundary..<size {
                    #expect(
                        tree.inclusionProof(index: index, treeSize: size)
                            == MerkleTree.inclusionProof(index: index, leaves: leaves.prefix(size)), "b=\(boundary) n=\(size) i=\(index)")
                }
                if boundary > 0 {
                    for old in boundary...size {
                        #expect(
                            tree.consistencyProof(oldSize: old, newSize: size)
                                == MerkleTree.consistencyProof(oldSize: old, leaves: leaves.prefix(size)), "b=\(boundary) \(old)→\(size)")
                    }
                }
            }
        }
    }
}

func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        out.append(UInt8(hex[i..<j], radix: 16)!)
        i = j
    }
    return out
}
