/// Errors of the model: each says what is wrong and what to change.
public enum CellLMError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalidConfig(field: String, value: String, allowed: String)
    case tensorFile(file: String, problem: String, fix: String)
    case shapeMismatch(file: String, tensor: String, expected: [Int], found: [Int])
    case geneMismatch(file: String, problem: String)
    case invalidInput(field: String, problem: String, fix: String)
    case nonFinite(step: Int, where: String)

    public var description: String {
        switch self {
        case let .invalidConfig(field, value, allowed):
            return "model config: \(field) = \(value) is out of range; allowed: \(allowed)"
        case let .tensorFile(file, problem, fix):
            return "\(file): \(problem). \(fix)"
        case let .shapeMismatch(file, tensor, expected, found):
            return "\(file): tensor '\(tensor)' has shape \(found) but this model needs \(expected). The checkpoint was made for another config; load it with its own config or convert it again."
        case let .geneMismatch(file, problem):
            return "\(file): \(problem). Harmonise the dataset's genes to the checkpoint's vocabulary (tessera genes overlap) or pretrain a new model."
        case let .invalidInput(field, problem, fix):
            return "input \(field): \(problem). \(fix)"
        case let .nonFinite(step, location):
            return "training stopped at step \(step): \(location) became NaN or infinite. Lower the learning rate, check the input for extreme counts, or resume from the last checkpoint."
        }
    }
}
