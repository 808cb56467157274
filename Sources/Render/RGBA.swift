/// One 8-bit sRGB colour with alpha, as stored in PNG palettes and RGBA pixels.
public struct RGBA: Sendable, Hashable, Codable {
    public var r: UInt8, g: UInt8, b: UInt8, a: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8, _ a: UInt8 = 255) { self.r = r; self.g = g; self.b = b; self.a = a }

    /// Parses `#rrggbb`, `#rrggbbaa` or `#rgb` (case-insensitive, `#` optional); nil for anything else.
    public init?(hex: String) {
        var s = Substring(hex.trimmingCharacters(in: .whitespaces))
        if s.hasPrefix("#") { s = s.dropFirst() }
        if s.count == 3 { s = Substring(s.map { "\($0)\($0)" }.joined()) }
        guard s.count == 6 || s.count == 8, let v = UInt32(s, radix: 16) else { return nil }
        if s.count == 6 { self.init(UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)) }
        else { self.init(UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)) }
    }

    /// `#rrggbb` (alpha left out; the viewer draws legends on an opaque background).
    public var hex: String {
        let d = Array("0123456789abcdef")
        return "#" + String([r >> 4, r & 15, g >> 4, g & 15, b >> 4, b & 15].map { d[Int($0)] })
    }

    public static let transparent = RGBA(0, 0, 0, 0)
    /// Cells with no value (NaN, ±∞, a missing category): a light grey distinct from every palette entry.
    public static let missing = RGBA(0xd3, 0xd3, 0xd3)
    /// Cells whose value is exactly zero when zeros are drawn grey (scanpy#1550).
    public static let zero = RGBA(0xe8, 0xe8, 0xe8)
}

import Foundation
