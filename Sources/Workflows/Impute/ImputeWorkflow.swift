import CellLM
import Foundation
import SpatialData
import Tensor

/// `impute`: predicts genes a spatial panel lacks from an scRNA reference with a cell language model
/// fine-tuned on both (`Imputer`, cellplm.md §5.2).
///
/// - evaluation: `heldout_genes` panel genes (stratified by sparsity, seeded by the job: `HeldOutGenes`) are
///   removed from the query, predicted, and scored against their counts: per-gene Pearson, cosine, RMSE and MAE
///   on log1p(1e4 · x / L_i), with L_i the cell's library over the visible panel genes (the same L for truth and
///   prediction, and no held-out count in it). The reference-mean-profile floor (`MeanProfileBaseline`) is
///   scored the same way and reported as `baseline_*`.
/// - production: predicts every reference gene the panel lacks, or the `genes` list; no truth.
///
/// Writes `artifacts/imputed.h5ad` (X = the imputed genes on the query's scale, with the query's obs, coordinates
/// and images: what `sc.pl.spatial(color=gene)` plots), `artifacts/result.h5ad` (the query as given; `layers['imputed']` over the predicted genes, listed in
/// `uns['imputed_genes']`, genes absent from the panel appended to var as not measured, with their imputed values
/// in X too (`var['imputed']`; measured genes keep their counts in X); per-gene scores in
/// `uns['imputation']` in evaluation) and `artifacts/metrics.json`. Checkpoints every `checkpoint_every` steps;
/// a rerun resumes from the last. With `ensemble` N, N models are fine-tuned one after the other from the
/// member seeds (`ImputationSettings.memberSeed`), each with its own checkpoints, and the prediction is their mean.
public enum ImputeWorkflow: WorkflowImplementation {
    public static let name = "impute"

    public static func check(_ context: WorkflowContext) throws {
        _ = try plan(context)
        if context.has("checkpoint") {
            let url = try context.checkpointURL("checkpoint")
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw WorkflowError.invalidParameter(name: "checkpoint", message: "file \(url.path) does not exist; give the path of a .tsr checkpoint (or job:ID of a finished pretrain job), or leave it out to train from scratch")
            }
        }
    }

    static func plan(_ context: WorkflowContext) throws -> ImputePlan {
        return try ImputePlan.make(query: try context.dataset("spatial"), reference: try context.dataset("reference"),
                                   mode: try context.choice("mode", as: ImputePlan.Mode.self),
                                   heldOut: try context.double("heldout_genes"),
                                   genes: context.has("genes") ? try context.strings("genes") : nil, seed: context.seed,
                                   queryFile: context.spec.inputs["spatial"] ?? "spatial",
                                   referenceFile: context.spec.inputs["reference"] ?? "reference")
    }

    static func settings(_ context: WorkflowContext) throws -> ImputationSettings {
        var s = ImputationSettings()
        s.preset = try context.string("preset")
        s.steps = try context.int("steps")
        s.learningRate = try context.float("lr")
        s.warmupSteps = try context.int("warmup_steps")
        s.weightDecay = try context.float("weight_decay")
        s.dropout = try context.float("dropout")
        s.positionEmbedding = try context.bool("position_embedding")
        s.hideMissingFromReference = try context.bool("hide_missing_from_reference")
        s.decodeAsReference = try context.string("decode_as") == "reference"
        s.maxCellsPerSequence = try context.int("max_cells_per_sequence")
        s.perCellRescaling = try context.string("rescale") == "cell"
        s.normalizeInput = try context.bool("normalize_input")
        s.harmonizeInput = try context.bool("harmonize_input")
        s.transfer = try context.choice("transfer", as: ImputationSettings.Transfer.self)
        s.transferNeighbours = try context.int("transfer_neighbours")
        s.seed = context.seed
        s.ensemble = try context.int("ensemble")
        s.maskCellRate = try context.float("mask_cells")
        s.loss = try context.choice("loss", as: ReconstructionLoss.self)
        s.checkpoint = context.has("checkpoint") ? try context.checkpointURL("checkpoint") : nil
        return s
    }

    public static func run(_ context: WorkflowContext) throws {
        var seconds: [String: Double] = [:]
        var lapStart = Date()
        func lap(_ phase: String) { seconds["seconds_\(phase)"] = Date().timeIntervalSince(lapStart); lapStart = Date() }

        context.emit(JobEvent(kind: .progress, phase: "load", step: 0, total: 1))
        let query = try context.dataset("spatial"), reference = try context.dataset("reference")
        let plan = try plan(context)
        let settings = try settings(context)
        let every = try context.int("checkpoint_every")
        var lastLoss = Double.nan          // the last member's final loss with an ensemble
        var predicted: (values: Matrix, panelLibrary: [Double])?
        var memberPredictions: [Matrix] = []   // for the per-gene agreement of the ensemble
        var panelPredicted: [Double] = [], panelObserved: [Double] = []   // for the query-scale calibration
        var parameters = 0, vocabularySize = 0
        // One model per ensemble member, each from its own seed with its own checkpoints; a member whose last
        // checkpoint is at the final step is only reloaded, so a resumed job picks up where it stopped.
        for member in 0..<settings.ensemble {
            var memberSettings = settings
            memberSettings.seed = settings.memberSeed(member)
            let store = TrainingCheckpoints(context.folder, member: member)
            var resume: Checkpoint?
            var start = 0
            if let last = store.latest() {
                resume = try Checkpoint.read(last.url)
                start = min(last.step, settings.steps)
                context.emit(JobEvent(kind: .message, step: start, text: "resuming\(settings.ensemble > 1 ? " member \(member + 1)" : "") from \(last.url.lastPathComponent) at step \(start)"))
            }
            let imputer: Imputer
            do { imputer = try Imputer(query: plan.visibleQuery, reference: reference, settings: memberSettings, resume: resume) }
            catch let e as CellLMError { throw WorkflowError.badInput(role: "spatial", file: context.spec.inputs["spatial"] ?? "spatial", message: e.description) }
            if let resume, resume.genes != imputer.vocabulary {
                throw WorkflowError.badInput(role: "spatial", file: store.latest()?.url.path ?? "checkpoints/",
                    message: "the checkpoint was saved for another gene vocabulary; the inputs changed since it was written; delete checkpoints/ to start over")
            }
            let targetVocab = imputer.vocabularyIndex(columns: plan.targetReferenceColumns, of: reference)
            if let k = targetVocab.firstIndex(where: { $0 == nil }) {
                throw WorkflowError.invalidParameter(name: plan.mode == .production && context.has("genes") ? "genes" : "checkpoint",
                    message: "gene '\(plan.targetGenes[k])' is not in the model's vocabulary (\(imputer.vocabulary.count) genes); a pretrained checkpoint can only impute genes it was trained on — drop the gene or train from scratch (no checkpoint)")
            }
            if member == 0 {
                context.emit(JobEvent(kind: .progress, phase: "load", step: 1, total: 1,
                                      values: ["query_cells": Double(query.cellCount), "reference_cells": Double(reference.cellCount),
                                               "vocabulary": Double(imputer.vocabulary.count), "targets": Double(plan.targetGenes.count)]))
                lap("load")
            }
            if settings.ensemble > 1 { context.emit(JobEvent(kind: .message, step: start, text: "ensemble member \(member + 1) of \(settings.ensemble)")) }
            try TrainingLoop(context, phase: settings.ensemble > 1 ? "train \(member + 1)/\(settings.ensemble)" : "train",
                             total: settings.steps, checkpointEvery: every,
                             followingSteps: (settings.ensemble - member - 1) * settings.steps)   // ETA to the ensemble's end
                .run(from: start, step: { s in
                    let loss = try imputer.train(step: s)
                    lastLoss = Double(loss.total)
                    return ["loss": Double(loss.total), "reconstruction": Double(loss.reconstruction),
                            "lr": Double(imputer.trainer.schedule.rate(step: imputer.trainer.optimizer.t))]
                }, save: { s in try store.save(imputer.checkpoint(), step: s, context: context) })
            try context.checkCancelled()
            let p = try imputer.predict(vocabulary: targetVocab.map { $0! })
            memberPredictions.append(p.values)
            // The visible panel genes as the model predicts them (same rescaling), against their measured totals.
            let panel = try QueryScale.panelTotals(imputer, query: plan.visibleQuery)
            panelPredicted = panelPredicted.isEmpty ? panel.predicted : zip(panelPredicted, panel.predicted).map { $0 + $1 }
            panelObserved = panel.observed
            if var sum = predicted {
                for j in 0..<sum.values.data.count { sum.values.data[j] += p.values.data[j] }
                predicted = sum
            } else {
                predicted = p
            }
            parameters = imputer.model.params.count
            vocabularySize = imputer.vocabulary.count
        }
        lap("train")

        try context.checkCancelled()
        context.emit(JobEvent(kind: .progress, phase: "impute", step: 0, total: 1))
        // The members' mean (each already rescaled to the cell's panel library, which they share).
        var prediction = predicted!
        if settings.ensemble > 1 { for j in 0..<prediction.values.data.count { prediction.values.data[j] /= Float(settings.ensemble) } }
        // Onto the query's scale: each gene's factor from the visible panel genes' measured/predicted ratios as
        // a function of predicted level (ScaleCalibration.level; docs/impute.md has why and what it measured).
        let referenceScale = prediction.values
        let cells = referenceScale.rows, t = referenceScale.cols
        let panelMean = panelPredicted.map { $0 / Double(settings.ensemble) }
        let targetMeans = QueryScale.columnSums(referenceScale).map { $0 / Double(max(1, cells)) }
        let factors = ScaleCalibration.level.factors(observed: panelObserved, predicted: panelMean, cells: cells, targetMeans: targetMeans)
        let levelFit = ScaleCalibration.levelFit(observed: panelObserved, predicted: panelMean, cells: cells)
        let globalFactor = QueryScale.factor(observed: panelObserved, predicted: panelMean)
        for i in 0..<cells { for j in 0..<t { prediction.values.data[i * t + j] *= Float(factors[j]) } }
        context.emit(JobEvent(kind: .progress, phase: "impute", step: 1, total: 1))
        lap("impute")

        var metrics: [String: Double] = ["steps": Double(settings.steps), "targets": Double(plan.targetGenes.count),
                                         "query_cells": Double(query.cellCount), "reference_cells": Double(reference.cellCount),
                                         "vocabulary": Double(vocabularySize), "final_loss": lastLoss,
                                         "parameters": Double(parameters), "ensemble": Double(settings.ensemble),
                                         "query_scale_global_factor": globalFactor,
                                         "query_scale_slope": levelFit?.slope ?? .nan, "query_scale_intercept": levelFit?.intercept ?? .nan]
        var details: [String: JSONValue] = ["genes": .array(plan.targetGenes.map { .string($0) }),
                                            "scale_factors": .array(factors.map { .number($0) })]
        var uns: [(name: String, value: H5ADExtras.UnsValue)] = []
        let library = plan.visibleQuery.counts.rowSums()
        let agreement = EnsembleAgreement.perGene(members: memberPredictions, library: library)
        details["confidence"] = .array(agreement.map { $0.isFinite ? .number($0) : .null })
        metrics["confidence_mean"] = agreement.filter(\.isFinite).isEmpty ? .nan
            : agreement.filter(\.isFinite).reduce(0, +) / Double(agreement.filter(\.isFinite).count)
        if plan.mode == .evaluation, let sel = plan.selection {
            let truth = query.denseColumns(plan.heldOutQueryColumns)
            let library = plan.visibleQuery.counts.rowSums()
            let ours = ImputationMetrics.score(genes: plan.targetGenes, truth: truth, prediction: prediction.values,
                                               truthLibrary: library, predictionLibrary: library)
            let base = ImputationMetrics.score(genes: plan.targetGenes, truth: truth,
                                               prediction: MeanProfileBaseline.predict(query: plan.visibleQuery, reference: reference,
                                                                                      targetReferenceColumns: plan.targetReferenceColumns),
                                               truthLibrary: library, predictionLibrary: library)
            metrics.merge(ours.metrics()) { $1 }
            // The same prediction before the query-scale calibration, and how far each is from the measured gene
            // levels (median |log(mean predicted / mean measured)| over the held-out genes).
            let before = ImputationMetrics.score(genes: plan.targetGenes, truth: truth, prediction: referenceScale,
                                                 truthLibrary: library, predictionLibrary: library)
            metrics.merge(before.metrics(prefix: "reference_scale_")) { $1 }
            metrics["scale_error"] = QueryScale.medianAbsLogRatio(prediction: prediction.values, truth: truth)
            metrics["reference_scale_scale_error"] = QueryScale.medianAbsLogRatio(prediction: referenceScale, truth: truth)
            // The one global factor used before (the median panel ratio), for comparison.
            let measuredMeans = QueryScale.columnSums(truth).map { $0 / Double(max(1, cells)) }
            metrics["global_factor_scale_error"] = QueryScale.medianAbsLog(targetMeans.indices.map { globalFactor * targetMeans[$0] / measuredMeans[$0] })
            // Does the confidence rank genes as their scores do? (Spearman over the held-out genes.)
            metrics["confidence_vs_pearson_spearman"] = EnsembleAgreement.spearman(agreement, ours.genes.map { $0.pearson ?? .nan })
            metrics.merge(base.metrics(prefix: "baseline_")) { $1 }
            let e = JSONEncoder()
            details["per_gene"] = try JSONDecoder().decode(JSONValue.self, from: e.encode(ours.genes))
            details["baseline_per_gene"] = try JSONDecoder().decode(JSONValue.self, from: e.encode(base.genes))
            details["sparsity_bins"] = .object(["edges": .array(HeldOutGenes.binEdges.map { .number($0) }),
                                                "eligible": .array(sel.binSizes.map { .number(Double($0)) }),
                                                "held_out": .array(sel.binTaken.map { .number(Double($0)) })])
            uns.append(("imputation", .dict([
                ("genes", .strings(ours.genes.map(\.gene))),
                ("pearson", .numbers(ours.genes.map { $0.pearson ?? .nan })),
                ("cosine", .numbers(ours.genes.map(\.cosine))), ("rmse", .numbers(ours.genes.map(\.rmse))),
                ("mae", .numbers(ours.genes.map(\.mae))),
                ("transform", .string("log1p(1e4 * value / library of the visible panel genes)"))])))
        }
        metrics.merge(seconds) { $1 }

        try context.checkCancelled()
        context.emit(JobEvent(kind: .progress, phase: "write", step: 0, total: 1))
        var extras = H5ADExtras()
        extras.layers = [.init(name: "imputed", genes: plan.targetGenes, values: prediction.values)]
        extras.xFromLayer = "imputed"   // X holds the imputed genes the query lacks (var['imputed']), so scanpy sees them
        uns.append(("imputed_scale", .string("the query's scale: counts at each query cell's depth (the model's profile rescaled per cell so its panel genes sum to the cell's observed panel counts; rescale=global: one factor for all cells), then each gene multiplied by its entry of imputed_scale_factors: exp(a + b * log(predicted mean)), a line fitted (Theil-Sen) to log(measured / predicted total) of the visible panel genes against their log predicted mean, read at the gene's predicted mean clamped to the panel's range; it carries the query platform's capture, which depends on a gene's level, to the imputed genes. Divide by imputed_scale_factors for the reference's relative levels. In result.h5ad, X holds these values for the genes the query does not measure (var['imputed'] true, var['measured'] false) and the measured counts for every other gene; layers['imputed'] holds every prediction (held-out panel genes' too in evaluation). Compute library sizes over the measured genes only, e.g. a.X = scipy.sparse.diags(1e4 / np.maximum(a[:, a.var['measured']].X.sum(1).A1, 1)) @ a.X before sc.pp.log1p(a).")))
        uns.append(("imputed_scale_factors", .numbers(factors)))
        uns.append(("imputed_confidence", .numbers(agreement.map { $0.isFinite ? $0 : -1 })))
        uns.append(("imputed_confidence_meaning", .string(settings.ensemble > 1
            ? "per gene of uns['imputed_genes']: mean Pearson across cells between the \(settings.ensemble) ensemble members' predictions (log1p of library-normalised values); near 1 the data determine the gene, near 0 it is seed noise; -1 = undefined. It measures agreement, not accuracy: on held-out genes it ranked genes by accuracy on osmFISH + Allen and on scRNA references split in two, but not on seqFISH + Tasic, where no gene is imputed well (docs/impute.md). Use it to rank genes within a run: low agreement flags a gene the seed decides; high agreement does not promise accuracy (docs/impute.md)"
            : "undefined (-1): one model, no ensemble to compare; set ensemble >= 2 for a per-gene confidence")))
        extras.uns = uns
        extras.tessera = [("workflow", .string(name)), ("version", .string(context.spec.version)),
                          ("parameters", .string(context.parametersJSON())), ("mode", .string(plan.mode.rawValue))]
        try RenderStep.run(context, dataset: query, extras: &extras, colour: nil)  // issue 13: map of an imputed gene
        let out = try context.artifactURL("result.h5ad")
        try H5ADWriter.write(query, to: out.path, extras: extras)
        context.emitArtifact("result.h5ad", kind: "h5ad")
        // The imputed genes as an AnnData of their own: X = the imputed values (query scale), with the query's
        // cells, obs, coordinates and images, so sc.pl.spatial(adata, color=gene) plots them directly (result.h5ad
        // has them in X only for genes the query does not measure).
        var imputed = query
        imputed.counts = CSRMatrix(dense: prediction.values)
        imputed.geneIDs = plan.targetGenes; imputed.geneSymbols = plan.targetGenes
        imputed.measured = [Bool](repeating: true, count: plan.targetGenes.count)
        imputed.vars = ObsTable()
        imputed.vars["imputed"] = .bool([Bool](repeating: true, count: plan.targetGenes.count))
        var imputedExtras = H5ADExtras()
        imputedExtras.tessera = extras.tessera
        imputedExtras.uns = uns.filter { $0.name.hasPrefix("imputed_") } + [("imputed_genes", .strings(plan.targetGenes))]
        try H5ADWriter.write(imputed, to: try context.artifactURL("imputed.h5ad").path, extras: imputedExtras)
        context.emitArtifact("imputed.h5ad", kind: "h5ad")
        context.emit(JobEvent(kind: .progress, phase: "write", step: 1, total: 1))
        lap("write")
        metrics["seconds_write"] = seconds["seconds_write"]
        try context.writeMetrics(metrics, details: details)
    }
}
