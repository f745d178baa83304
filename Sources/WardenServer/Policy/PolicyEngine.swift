import Cedar
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import WardenCore

/// What the policies decided about one (principal, action, model).
public struct PolicyDecision: Sendable {
    public var allowed: Bool
    /// The determining policies, by label (`@id`, else `FILE:policyN`).
    public var determining: [String]
    /// Policies that failed to evaluate (skipped), by label.
    public var errors: [String]
    /// Whether the decision is enforced (`policies_mode: enforce`) or only recorded (`shadow`).
    public var enforced: Bool
}

/// A policy directory that cannot be loaded: where, and why.
public struct PolicyLoadError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    package init(message: String) { self.message = message }
}

/// The Cedar policies of `policies: DIR`, swapped atomically: on start, when a file changes (checked
/// every second), on `POST /admin/policies/reload`, and on a config reload. A set that does not parse is
/// rejected and the previous one stays. Without a `policies` entry everything is permitted.
public final class PolicyEngine: Sendable {
    public struct Loaded: Sendable {
        public var set: PolicySet
        public var directory: String
        public var files: [String]
        /// `schema.cedarschema`, when the directory has one (the policies validate against it).
        public var schema: CedarSchema?
        /// Names, sizes and modification times of the files, to notice changes.
        var fingerprint: String
    }

    struct State: Sendable {
        var loaded: Loaded?
        var mode: PoliciesMode = .enforce
        var directory: String?
    }

    private let state = Mutex(State())
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public var isActive: Bool { state.withLock { $0.loaded != nil } }
    public var loaded: Loaded? { state.withLock { $0.loaded } }

    /// Applies the configuration's `policies` and `policies_mode` (on start and on config reload).
    public func configure(directory: String?, mode: PoliciesMode) throws(PolicyLoadError) {
        guard let directory else {
            state.withLock { $0 = State(loaded: nil, mode: mode, directory: nil) }
            return
        }
        let loaded = try Self.load(directory: directory)
        state.withLock { $0 = State(loaded: loaded, mode: mode, directory: directory) }
    }

    /// Reads the directory again now; throws (keeping the old set) if it does not load.
    @discardableResult
    public func reload() throws(PolicyLoadError) -> Loaded? {
        guard let directory = state.withLock({ $0.directory }) else { return nil }
        let loaded = try Self.load(directory: directory)
        state.withLock { $0.loaded = loaded }
        return loaded
    }

    /// Reloads when the files changed since the last load. Logs what happened.
    func reloadIfChanged() {
        guard let (directory, old) = state.withLock({ s in s.directory.map { ($0, s.loaded?.fingerprint) } }) else { return }
        guard let now = try? Self.fingerprint(directory: directory), now != old else { return }
        do {
            let loaded = try Self.load(directory: directory)
            state.withLock { $0.loaded = loaded }
            logger.notice("policies reloaded", metadata: ["warden.policies": "\(loaded.set.policies.count)"])
        } catch {
            // Remember the bad fingerprint so the error is logged once per change, not every second.
            state.withLock { $0.loaded?.fingerprint = now }
            logger.error("policy change rejected; the previous policies stay", metadata: ["error": "\(error)"])
        }
    }

    static func fingerprint(directory: String) throws -> String {
        let fm = FileManager.default
        let names = try fm.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".cedar") || $0 == "schema.cedarschema" }.sorted()
        return names.map { name in
            let attributes = try? fm.attributesOfItem(atPath: directory + "/" + name)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let mtime = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            return "\(name):\(size):\(mtime)"
        }.joined(separator: "|")
    }

    /// Parses every `*.cedar` file of the directory (in name order). Policies are labelled by their
    /// `@id` annotation, else `FILE:policyN` (N counting within the file); labels must be unique.
    public static func load(directory: String) throws(PolicyLoadError) -> Loaded {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PolicyLoadError(message: "\(directory) is not a directory")
        }
        let fingerprint: String
        let names: [String]
        do {
            fingerprint = try Self.fingerprint(directory: directory)
            names = try fm.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".cedar") }.sorted()
        } catch {
            throw PolicyLoadError(message: "cannot read \(directory): \(error)")
        }
        var policies: [Policy] = []
        var labels: Set<String> = []
        for name in names {
            guard let data = fm.contents(atPath: directory + "/" + name) else { throw PolicyLoadError(message: "cannot read \(name)") }
            guard data.count <= 4 << 20 else { throw PolicyLoadError(message: "\(name) is larger than 4 MiB") }
            let parsed: [Policy]
            do {
                parsed = try CedarParser.parsePolicies(String(decoding: data, as: UTF8.self), file: name)
            } catch {
                throw PolicyLoadError(message: error.description)
            }
            for (i, var policy) in parsed.enumerated() {
                let label = policy.annotation("id") ?? "\(name):policy\(i)"
                guard labels.insert(label).inserted else {
                    throw PolicyLoadError(message: "\(name): two policies are labelled `\(label)` (@id values must be unique)")
                }
                policy.id = label
                policies.append(policy)
            }
        }
        var schema: CedarSchema?
        let schemaPath = directory + "/schema.cedarschema"
        if let data = fm.contents(atPath: schemaPath) {
            do {
                schema = try CedarSchema(text: String(decoding: data, as: UTF8.self))
            } catch {
                throw PolicyLoadError(message: "schema.cedarschema: \(error)")
            }
        }
        let set = PolicySet(policies)
        if let schema {
            let problems = Validator(schema: schema).validate(set)
            if !problems.isEmpty {
                throw PolicyLoadError(
                    message: "the policies do not validate against schema.cedarschema: " + problems.map(\.description).joined(separator: "; "))
            }
        }
        return Loaded(set: set, directory: directory, files: names, schema: schema, fingerprint: fingerprint)
    }

    /// Authorizes one request; nil when no policies are configured (everything is permitted).
    public func authorize(_ request: CedarRequest, entities: EntityStore) -> PolicyDecision? {
        let (loaded, mode) = state.withLock { ($0.loaded, $0.mode) }
        guard let loaded else { return nil }
        let response = Authorizer.isAuthorized(request, policies: loaded.set, entities: entities)
        return PolicyDecision(
            allowed: response.decision == .allow, determining: response.reasons, errors: response.errors.map(\.policy),
            enforced: mode == .enforce)
    }
}

/// Notices changed policy files within a second.
struct PolicyWatchService: Service {
    let engine: PolicyEngine

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                engine.reloadIfChanged()
            }
        }
    }
}
