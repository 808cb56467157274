import Testing
@testable import SpatialData

@Suite struct Placeholder { @Test func builds() { #expect(ImportError.Kind.corrupt.rawValue == "corrupt") } }
