/// Comparisons whose duration does not reveal how much of a secret matched.
public enum ConstantTime {
    /// True when `a` and `b` hold the same bytes; looks at every byte of the longer one.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            let left = index < a.count ? a[index] : 0
            let right = index < b.count ? b[index] : 0
            difference |= left ^ right
        }
        return difference == 0 && a.count == b.count
    }
}
