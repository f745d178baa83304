// warden-fuzz: Warden's fuzz targets (Sources/WardenFuzzTargets) under libFuzzer.
//
// Built with the fuzzer (bench/fuzz.sh: `-sanitize=fuzzer,address`, `-DWARDEN_FUZZ`), it runs libFuzzer
// on the target named by WARDEN_FUZZ_TARGET:
//     WARDEN_FUZZ_TARGET=json warden-fuzz [libFuzzer options] [corpus directories]
// Built normally, it replays files through a target (what the test build does in-process):
//     warden-fuzz TARGET FILE...
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import WardenFuzzTargets

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\ntargets: " + FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ") + "\n").utf8))
    exit(2)
}

#if WARDEN_FUZZ
let fuzzTarget: FuzzTarget = {
    guard let name = ProcessInfo.processInfo.environment["WARDEN_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        fail("set WARDEN_FUZZ_TARGET to a target")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    fuzzTarget.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

_ = fuzzTarget
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(runDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
#else
let arguments = CommandLine.arguments
guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else { fail("usage: warden-fuzz TARGET FILE...") }
for path in arguments.dropFirst(2) {
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    target.run(Array(data))
}
print("replayed \(arguments.count - 2) inputs through \(target.rawValue)")
#endif
