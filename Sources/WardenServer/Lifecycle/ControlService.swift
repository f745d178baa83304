import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import WardenCore

/// Lets code that started a server in-process (the demo, tests) reload or stop it.
public final class WardenControl: Sendable {
    enum Command: Sendable { case reload, terminate }

    let commands: AsyncStream<Command>
    private let continuation: AsyncStream<Command>.Continuation

    public init() {
        (commands, continuation) = AsyncStream.makeStream(of: Command.self)
    }

    /// Starts a graceful shutdown, as SIGTERM would.
    public func shutdown() { continuation.yield(.terminate) }

    /// Reloads the configuration file, as SIGHUP would.
    public func reload() { continuation.yield(.reload) }
}

/// Handles SIGTERM/SIGINT (report unready, wait `drain_delay`, then let the group shut down), SIGHUP and
/// changes of the config file (reload), and the same commands from a `WardenControl`.
///
/// Returning from `run` is what starts the group's graceful shutdown.
struct ControlService: Service {
    let control: WardenControl
    let configPath: String?
    let readiness: Readiness
    let drainDelay: @Sendable () -> Duration
    let reload: @Sendable () async -> Void
    let logger: Logger

    func run() async throws {
        let (commands, sink) = AsyncStream.makeStream(of: WardenControl.Command.self)
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint, .sighup)
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await signal in signals {
                        sink.yield(signal == .sighup ? .reload : .terminate)
                    }
                }
                group.addTask {
                    for await command in control.commands { sink.yield(command) }
                }
                if let configPath {
                    group.addTask { await Self.watch(path: configPath, sink: sink) }
                }
                for await command in commands {
                    switch command {
                    case .reload:
                        await reload()
                    case .terminate:
                        readiness.startDraining()
                        let delay = drainDelay()
                        logger.notice(
                            "shutting down: reporting unready, draining",
                            metadata: ["warden.drain_delay_ms": "\(delay.clampedMilliseconds)"])
                        if delay > .zero { try? await Task.sleep(for: delay) }
                        group.cancelAll()
                        return
                    }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            readiness.startDraining()
            sink.finish()
        }
    }

    /// Polls the file's modification time and size once a second.
    static func watch(path: String, sink: AsyncStream<WardenControl.Command>.Continuation) async {
        func stamp() -> String? {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
            let date = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
            return "\(date)/\(size)"
        }
        var last = stamp()
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let now = stamp()
            if now != last, now != nil {
                last = now
                sink.yield(.reload)
            }
        }
    }
}
