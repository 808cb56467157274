import Foundation
import Testing
@testable import Tensor

@Suite struct FastMathTests {
    @Test func expMatchesLibm() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let ref = Foundation.exp(Double(x))
            let rel = Float(abs(Double(FastMath.exp(x)) - ref) / ref)
            worst = max(worst, rel)
            x += 0.0137
        }
        #expect(worst < 3e-7, "worst relative error \(worst)")
        #expect(FastMath.exp(-200) < 1e-37 && FastMath.exp(200) > 1e38)
    }

    @Test func erfMatchesLibm() {
        var worst = 0.0
        var x: Float = -6
        while x < 6 {
            worst = max(worst, abs(Double(FastMath.erf(x)) - Foundation.erf(Double(x))))
            x += 0.00731
        }
        #expect(worst < 3e-7, "worst absolute error \(worst)")
    }

    @Test func logMatchesLibm() {
        var worst = 0.0
        var x: Float = 1e-30
        while x < 1e30 {
            worst = max(worst, abs(Double(FastMath.log(x)) - Foundation.log(Double(x))) / max(1, abs(Foundation.log(Double(x)))))
            x *= 1.0173
        }
        #expect(worst < 3e-7, "worst error \(worst)")
    }
}
