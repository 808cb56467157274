import Tensor

/// A named parameter tensor: a slice of the store's flat value and gradient arrays.
public struct ParameterInfo: Sendable {
    public var name: String
    public var shape: [Int]
    public var offset: Int
    public var count: Int
    /// Learning-rate multiplier group: 0 = main, 1 = embedder (CellPLM trains it at 0.1× the rate).
    public var group: Int
}

/// All parameters of a model in one flat Float32 array, with a gradient array of the same layout. Names are
/// CellPLM's PyTorch state-dict names, so its weights map one to one. One flat array makes the optimizer,
/// gradient clipping and checkpoints single loops.
public final class ParameterStore: @unchecked Sendable {
    public private(set) var infos: [ParameterInfo] = []
    private var index: [String: Int] = [:]
    public let values: Buffer
    public let grads: Buffer
    public var count: Int { values.count }

    /// `layout` is the list of (name, shape, group) in allocation order.
    public init(layout: [(String, [Int], Int)]) {
        var off = 0
        for (name, shape, group) in layout {
            let n = shape.reduce(1, *)
            index[name] = infos.count
            infos.append(ParameterInfo(name: name, shape: shape, offset: off, count: n, group: group))
            off += n
        }
        values = Buffer(count: off)
        grads = Buffer(count: off)
    }

    public func info(_ name: String) -> ParameterInfo {
        guard let i = index[name] else { preconditionFailure("no parameter named \(name)") }
        return infos[i]
    }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// Pointer to a parameter's values.
    public func value(_ name: String) -> UnsafeMutablePointer<Float> { values.pointer + info(name).offset }
    /// Pointer to a parameter's gradient.
    public func grad(_ name: String) -> UnsafeMutablePointer<Float> { grads.pointer + info(name).offset }

    public func zeroGrads() { grads.fill(0) }

    /// Copies of one parameter's values (tests, export).
    public func array(_ name: String) -> [Float] {
        let i = info(name)
        return Array(UnsafeBufferPointer(start: values.pointer + i.offset, count: i.count))
    }

    public func gradArray(_ name: String) -> [Float] {
        let i = info(name)
        return Array(UnsafeBufferPointer(start: grads.pointer + i.offset, count: i.count))
    }

    public func set(_ name: String, _ data: [Float]) {
        let i = info(name)
        precondition(data.count == i.count, "\(name): \(data.count) values for \(i.count)")
        data.withUnsafeBufferPointer { (values.pointer + i.offset).update(from: $0.baseAddress!, count: i.count) }
    }
}
