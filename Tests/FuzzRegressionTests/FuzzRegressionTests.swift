import Foundation
import Testing

@testable import WardenFuzzTargets

/// Every fuzz target's corpus (kept small: the inputs that reached new code) and every input that ever
/// made one crash, replayed through the same code libFuzzer drives (`bench/fuzz.sh`). A regression
/// traps here and fails the suite.
@Suite("Fuzz corpora and crashes")
struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    static func inputs(_ folder: String, _ target: FuzzTarget) -> [URL] {
        let directory = root.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    @Test("each target's corpus replays without a trap", arguments: FuzzTarget.allCases)
    func corpus(_ target: FuzzTarget) throws {
        let files = Self.inputs("corpus", target)
        #expect(files.count >= 3, "the corpus of \(target.rawValue) is missing: run bench/fuzz.sh, or keep its seeds")
        for file in files { target.run(Array(try Data(contentsOf: file))) }
    }

    @Test("every crash ever found replays without a trap", arguments: FuzzTarget.allCases)
    func crashes(_ target: FuzzTarget) throws {
        for file in Self.inputs("crashes", target) { target.run(Array(try Data(contentsOf: file))) }
    }
}
