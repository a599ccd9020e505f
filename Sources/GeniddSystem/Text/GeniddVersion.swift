/// genidd's version, shared by the daemon and the client commands.
public enum GeniddVersion {
    public static let current = "0.2.0"
}
