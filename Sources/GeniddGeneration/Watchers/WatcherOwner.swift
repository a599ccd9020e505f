import GeniddSystem

/// Who a watcher belongs to: the uid that created it over the Unix socket
/// (the kernel vouches for it), and/or a secret that the creator chose or
/// was given (`Genidd-Watcher-Secret`), which is what a TCP client presents.
/// Only the owner, or an admin, may refresh, acknowledge or delete it.
struct WatcherOwner: Sendable, Equatable {
    var uid: UInt32?
    var secret: [UInt8]?
    /// The creating peer, for the per-owner cap (`uid N`, or an address).
    var peer: String

    init(uid: UInt32?, secret: [UInt8]?, peer: String) {
        self.uid = uid
        self.secret = secret
        self.peer = peer
    }

    /// True when `claim` proves ownership (or is an admin's).
    func accepts(_ claim: WatcherClaim) -> Bool {
        if claim.isAdmin {
            return true
        }
        if let uid, claim.uid == uid {
            return true
        }
        if let secret, let offered = claim.secret {
            return ConstantTime.equal(secret, offered)
        }
        return false
    }

    /// Who it is, for messages (never the secret).
    var description: String {
        if let uid {
            return secret == nil ? "uid \(uid)" : "uid \(uid) or the holder of its secret"
        }
        return "the holder of its secret"
    }
}

/// What a request proves about its sender, for watcher ownership.
public struct WatcherClaim: Sendable {
    /// The Unix socket peer's uid (nil on TCP).
    var uid: UInt32?
    /// The `Genidd-Watcher-Secret` header, when given.
    var secret: [UInt8]?
    /// An admin (by uid/gid or admin token) may act on any watcher.
    var isAdmin: Bool
    /// The peer, for the per-owner cap of watchers it creates.
    var peer: String

    public init(uid: UInt32?, secret: [UInt8]?, isAdmin: Bool, peer: String) {
        self.uid = uid
        self.secret = secret
        self.isAdmin = isAdmin
        self.peer = peer
    }
}
