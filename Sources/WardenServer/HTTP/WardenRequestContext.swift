import Hummingbird
import NIOCore

/// Warden's Hummingbird request context: the core storage plus the connection's identity, which the
/// disconnect watcher needs.
public struct WardenRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Identifies the client connection; nil in router tests that have no channel.
    public let connectionID: ObjectIdentifier?
    /// The peer's IP address (before `trusted_proxies` are applied).
    public let peer: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.connectionID = ObjectIdentifier(source.channel)
        self.peer = source.channel.remoteAddress?.ipAddress
    }

    /// Bodies are collected by Warden itself with its own limit and errors.
    public var maxUploadSize: Int { Int.max }
}
