import Foundation
import Tensor

/// Fine-tuning for spatial imputation (cellplm.md §5.2): the NB loss over each sequence's measured genes for
/// every kept cell (`NBLoss.Objective.allCells`, masking only as augmentation), or with `reconstruction`
/// `.logMSE` the squared error on the log-normalised scale over the same genes and cells (ours); plus one addition of ours:
/// genes listed in `hiddenInput` are zeroed in the input on every step while staying in the loss. For the
/// scRNA reference these are the genes the spatial panel lacks, so the model is trained on exactly the task it
/// is asked at inference (predict those genes from the panel genes) and query and reference cells enter the
/// encoder with the same genes.
extension CellLM {
    /// One forward and backward; gradients are added to `params.grads` (zero them first).
    /// seq: N×G counts in the vocabulary; hiddenInput: vocabulary indices never shown to the embedder;
    /// inputScale: optional per-cell factors (N) applied to the embedder's input only (the loss keeps the raw
    /// counts), e.g. library-size normalisation so that two platforms of different depth look alike;
    /// geneScale: optional per-gene factors (G, vocabulary order) applied to the input only, e.g. a platform's
    /// per-gene capture relative to the reference's.
    public func imputationStep(_ seq: CellSequence, hiddenInput: [Int32], inputScale: [Float]? = nil,
                               geneScale: [Float]? = nil, reconstruction: ReconstructionLoss = .nb) throws(CellLMError) -> StepLoss {
        if let g = hiddenInput.first(where: { $0 < 0 || Int($0) >= config.genes }) {
            throw .invalidInput(field: "hiddenInput", problem: "gene index \(g) is outside the vocabulary of \(config.genes)",
                                fix: "Hidden genes are vocabulary indices.")
        }
        if let inputScale, inputScale.count != seq.cells {
            throw .invalidInput(field: "inputScale", problem: "has \(inputScale.count) factors for \(seq.cells) cells", fix: "Give one factor per cell.")
        }
        if let geneScale, geneScale.count != config.genes {
            throw .invalidInput(field: "geneScale", problem: "has \(geneScale.count) factors for \(config.genes) genes", fix: "Give one factor per vocabulary gene.")
        }
        var hidden = [Bool](repeating: false, count: hiddenInput.isEmpty ? 0 : config.genes)
        for g in hiddenInput { hidden[Int(g)] = true }
        // Masking (drop cells, mask a Beta rate of measured genes in 95 % of cells) is augmentation only: the
        // objective scores every kept cell on all its measured genes.
        return try trainStep(seq, objective: .allCells, reconstruction: reconstruction) { m in
            if !hidden.isEmpty {
                for z in 0..<m.masked.nnz where hidden[Int(m.masked.indices[z])] { m.masked.values[z] = 0 }
            }
            if let inputScale {
                for (i, row) in m.kept.enumerated() {
                    for z in m.masked.indptr[i]..<m.masked.indptr[i + 1] { m.masked.values[z] *= inputScale[row] }
                }
            }
            if let geneScale {
                for z in 0..<m.masked.nnz { m.masked.values[z] *= geneScale[Int(m.masked.indices[z])] }
            }
        }
    }
}

extension Trainer {
    /// One optimizer step of imputation fine-tuning (`CellLM.imputationStep`), with the same NaN checks,
    /// global-norm clipping, AdamW and schedule as `step`.
    @discardableResult
    public func imputationStep(_ seq: CellSequence, hiddenInput: [Int32], inputScale: [Float]? = nil,
                               geneScale: [Float]? = nil, reconstruction: ReconstructionLoss = .nb) throws(CellLMError) -> StepLoss {
        model.params.zeroGrads()
        let loss = try model.imputationStep(seq, hiddenInput: hiddenInput, inputScale: inputScale, geneScale: geneScale,
                                            reconstruction: reconstruction)
        try applyGradients()
        return loss
    }
}
