import Analysis
import CellLM
import Foundation
import SpatialData
import Tensor

/// `annotate`: labels for the cells that have none. SupCon fine-tuning on the labelled cells of `data` (after a
/// brief pretraining, or from a pretrain/cluster-supcon checkpoint), then a classifier on the embedding chosen by
/// validation (`LabelTransfer`: kNN or a linear head on the latent, the projection, the cell's expression, the
/// latent with the expression, and with its spatial niche, or the mean of the two best), with a per-cell confidence and "Unknown" below `min_confidence`.
///
/// The labelled cells are split, stratified and seeded (`split`): **validation** cells (`validation_fraction`
/// of each class) are held out of fine-tuning and choose the classifier; in `evaluation` mode **test** cells
/// (`heldout_fraction`) are held out of fine-tuning and of the choice, predicted like unlabelled cells, and
/// scored (accuracy, macro-F1, ARI); in `production` mode every other labelled cell trains. The query is the
/// unlabelled cells of `data`, the test cells, and every cell of the optional `query` dataset.
///
/// Writes `artifacts/result.h5ad` (`data` plus `obs['predicted_<column>']`, `obs['predicted_<column>_confidence']`,
/// `obs['annotate_split']` (train / validation / test / unlabelled), `obsm['X_tessera']` = the fine-tuned latent,
/// `obsm['X_tessera_supcon']` = the SupCon projection, `uns['annotate']`), `artifacts/query.h5ad` for a `query`
/// dataset (the same columns), `artifacts/model.tsr` and `artifacts/metrics.json`.
public enum AnnotateWorkflow: WorkflowImplementation {
    public static let name = "annotate"
    static let role = "data", queryRole = "query"
    /// A query dataset must measure at least this share of the labelled data's genes.
    public static let minSharedGeneShare = 0.5

    public struct Settings: Sendable {
        public var supcon: ClusterSupConSettings
        public var evaluation = false
        public var testFraction = 0.2
        public var validationFraction = 0.1
        public var choice = LabelTransfer.Choice.auto
        public var k = 15
        public var minConfidence = 0.5
        public init(labelColumn: String) { supcon = ClusterSupConSettings(labelColumn: labelColumn) }

        /// The share of each class SupCon never trains on: validation, plus test in evaluation mode.
        public var heldOutFraction: Double { validationFraction + (evaluation ? testFraction : 0) }
    }

    static func settings(_ context: WorkflowContext) throws -> Settings {
        var s = Settings(labelColumn: try context.string("label_column"))
        s.evaluation = try context.string("mode") == "evaluation"
        s.testFraction = try context.double("heldout_fraction")
        s.validationFraction = try context.double("validation_fraction")
        s.choice = try context.choice("classifier", as: LabelTransfer.Choice.self)
        s.k = try context.int("k")
        s.minConfidence = try context.double("min_confidence")
        if s.heldOutFraction > 0.9 {
            throw WorkflowError.invalidParameter(name: "heldout_fraction", message: "\(s.testFraction) + validation_fraction \(s.validationFraction) hold out \(s.heldOutFraction) of each class; keep the sum at most 0.9 so cells remain to train on")
        }
        var c = s.supcon
        c.heldOutFraction = s.heldOutFraction
        c.steps = try context.int("steps"); c.learningRate = try context.float("lr"); c.temperature = try context.float("temperature")
        c.positionEmbedding = try context.bool("position_embedding"); c.cellsPerStep = try context.int("cells_per_step")
        c.pretrainSteps = try context.int("pretrain_steps"); c.preset = try context.string("preset"); c.tileGrid = try context.int("tile_grid")
        c.seed = context.seed
        try c.validate()
        s.supcon = c
        return s
    }

    /// Splits the cells SupCon holds out into validation and (evaluation) test cells: in each class a seeded
    /// validation_fraction / heldOutFraction share of its held-out cells validates, the rest are test cells.
    public static func split(_ labels: SupervisedLabels, _ s: Settings) -> (validation: [Bool], test: [Bool]) {
        var validation = [Bool](repeating: false, count: labels.cellCount), test = validation
        let share = s.heldOutFraction > 0 ? s.validationFraction / s.heldOutFraction : 0
        for k in labels.classes.indices {
            var rows = labels.codes.indices.filter { labels.codes[$0] == Int32(k) && labels.heldOut[$0] }
            var rng = SeededRNG(seed: s.supcon.seed ^ (0xA770_7A7E &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15))
            SeededShuffle.shuffle(&rows, &rng)
            let v = Int((share * Double(rows.count)).rounded())
            for (t, r) in rows.enumerated() { if t < v { validation[r] = true } else { test[r] = true } }
        }
        return (validation, test)
    }

    static func prepare(_ context: WorkflowContext) throws -> (Settings, Dataset, Checkpoint?, ClusterSupConData, Dataset?) {
        let s = try settings(context)
        let ds = try context.dataset(role)
        let ck = context.has("checkpoint") ? try context.checkpoint("checkpoint") : nil
        let data = try ClusterSupConData.prepare(ds, settings: s.supcon, vocabulary: ck?.genes, role: role, file: context.spec.inputs[role])
        if s.supcon.steps > 0 && !data.canFineTune {
            throw WorkflowError.badInput(role: role, file: context.spec.inputs[role] ?? ds.name,
                message: "no FOV/sample/tile holds two labelled training cells of column '\(s.supcon.labelColumn)'; label more cells or lower heldout_fraction/validation_fraction")
        }
        var query: Dataset?
        if context.roles.contains(queryRole) {
            let q = try context.dataset(queryRole)
            let shared = GeneVocabulary.coverage(q, of: data.vocabulary)
            if Double(shared) < minSharedGeneShare * Double(data.vocabulary.count) {
                throw WorkflowError.badInput(role: queryRole, file: context.spec.inputs[queryRole] ?? q.name,
                    message: "measures \(shared) of the \(data.vocabulary.count) genes the model reads (from '\(role)'\(ck == nil ? "" : " and the checkpoint")); at least \(Int((minSharedGeneShare * 100).rounded()))% must be shared to embed it alike. Use a query from the same panel, or check gene naming (symbols vs Ensembl ids, species)")
            }
            query = q
        }
        return (s, ds, ck, data, query)
    }

    public static func check(_ context: WorkflowContext) throws { _ = try prepare(context) }

    public static func run(_ context: WorkflowContext) throws {
        context.emit(JobEvent(kind: .progress, phase: "load", step: 0, total: 1))
        let (s, ds, ck, data, queryDS) = try prepare(context)
        context.emit(JobEvent(kind: .progress, phase: "load", step: 1, total: 1))
        let (trainer, pre, _) = try ClusterSupConWorkflow.train(context, s.supcon, data, ck)

        try context.checkCancelled()
        context.emit(JobEvent(kind: .progress, phase: "embed", step: 0, total: ds.cellCount))
        let (latent, projection) = try ClusterSupCon.embedFineTuned(trainer, data) { done in
            try context.checkCancelled()
            context.emit(JobEvent(kind: .progress, phase: "embed", step: done, total: ds.cellCount))
        }
        var queryEmbeddings: CellFeatures?
        if let q = queryDS {
            let cut = q.fov == nil ? DatasetSequences.tiled(q, grid: s.supcon.tileGrid) : q
            let set: SequenceSet
            do { set = try DatasetSequences.make(cut, vocabulary: data.vocabulary) } catch {
                throw WorkflowError.badInput(role: queryRole, file: context.spec.inputs[queryRole] ?? q.name, message: error.description)
            }
            var lat: [Matrix] = [], proj: [Matrix] = []
            for z in try trainer.model.embedMany(set.sequences) { lat.append(z); proj.append(try trainer.head.project(z)) }
            queryEmbeddings = try CellFeatures.make(q, vocabulary: data.vocabulary, latent: set.datasetOrder(lat, cells: q.cellCount),
                                                    projection: set.datasetOrder(proj, cells: q.cellCount))
        }

        try context.checkCancelled()
        context.emit(JobEvent(kind: .progress, phase: "classify", step: 0, total: 1))
        let labels = data.labels
        let (validation, test) = split(labels, s)
        let train = labels.codes.indices.filter { labels.codes[$0] >= 0 && !labels.heldOut[$0] }
        let valRows = labels.codes.indices.filter { validation[$0] }
        let ref = try CellFeatures.make(ds, vocabulary: data.vocabulary, latent: latent, projection: projection)
        // Every cell of `data` is predicted (training cells too, so the column is whole); the query dataset after.
        let outcome = try LabelTransfer.run(reference: ref, codes: labels.codes, train: train, validation: valRows, query: ref,
                                            classes: labels.classes.count, choice: s.choice, k: s.k, minConfidence: s.minConfidence)
        var queryOutcome: LabelTransfer.Outcome?
        if let qe = queryEmbeddings {
            // The selection validation chose, or (a query without coordinates cannot use the niche) the
            // best-validated one the query has features for.
            let usable = outcome.ranked.first { $0.usable(qe) } ?? LabelTransfer.Selection([.knnLatent])
            queryOutcome = try LabelTransfer.predict(usable, reference: ref, codes: labels.codes, rows: train + valRows, query: qe,
                                                     classes: labels.classes.count, k: s.k, minConfidence: s.minConfidence)
        }
        context.emit(JobEvent(kind: .progress, phase: "classify", step: 1, total: 1))

        var metrics: [String: Double] = [
            "cells": Double(ds.cellCount), "classes": Double(labels.classes.count), "train_cells": Double(train.count),
            "validation_cells": Double(valRows.count), "pretrain_steps": Double(pre), "finetune_steps": Double(s.supcon.steps),
            "unlabelled_cells": Double(labels.codes.filter { $0 < 0 }.count),
            "predicted_unknown_fraction_unlabelled": fraction(outcome.labels, rows: labels.codes.indices.filter { labels.codes[$0] < 0 }),
        ]
        for (m, f) in outcome.validationMacroF1 { metrics["validation_macro_f1_\(m)"] = f }
        if s.evaluation {
            let rows = labels.codes.indices.filter { test[$0] }
            metrics.merge(try LabelTransfer.scores(truth: rows.map { Int(labels.codes[$0]) }, predicted: rows.map { outcome.argmax[$0] },
                                                   thresholded: rows.map { outcome.labels[$0] }, prefix: "heldout_")) { $1 }
        }
        if let qo = queryOutcome, let q = queryDS {
            metrics["query_cells"] = Double(q.cellCount)
            metrics["predicted_unknown_fraction_query"] = fraction(qo.labels, rows: Array(0..<q.cellCount))
            // A query that carries the same label column is scored too (a labelled second section, say).
            if let truth = try? SupervisedLabels.make(q, column: s.supcon.labelColumn, heldOutFraction: 0, seed: 0, role: queryRole) {
                let index = Dictionary(uniqueKeysWithValues: labels.classes.enumerated().map { ($1, $0) })
                let rows = (0..<q.cellCount).filter { truth.codes[$0] >= 0 }
                let t = rows.map { index[truth.classes[Int(truth.codes[$0])]] ?? -2 }
                metrics.merge(try LabelTransfer.scores(truth: t, predicted: rows.map { qo.argmax[$0] },
                                                       thresholded: rows.map { qo.labels[$0] }, prefix: "query_")) { $1 }
            }
        }

        context.emit(JobEvent(kind: .progress, phase: "write", step: 0, total: 1))
        let column = s.supcon.labelColumn
        var extras = annotations(column: column, classes: labels.classes, outcome: outcome, s: s, context: context)
        extras.obsm = [("X_tessera", latent), ("X_tessera_supcon", projection)]
        extras.obs["annotate_split"] = .categorical(Categorical(labels: labels.codes.indices.map { i in
            labels.codes[i] < 0 ? "unlabelled" : validation[i] ? "validation" : test[i] ? "test" : "train" }))
        try H5ADWriter.write(ds, to: try context.artifactURL("result.h5ad").path, extras: extras)
        context.emitArtifact("result.h5ad", kind: "h5ad")
        if let qo = queryOutcome, let q = queryDS, let qe = queryEmbeddings {
            var qx = annotations(column: column, classes: labels.classes, outcome: qo, s: s, context: context)
            qx.obsm = [("X_tessera", qe.latent), ("X_tessera_supcon", qe.projection)]
            try H5ADWriter.write(q, to: try context.artifactURL("query.h5ad").path, extras: qx)
            context.emitArtifact("query.h5ad", kind: "h5ad")
        }
        try trainer.write(to: try context.artifactURL("model.tsr"), genes: data.vocabulary, progress: ["step": Double(pre + s.supcon.steps), "phase": 2])
        context.emitArtifact("model.tsr", kind: "checkpoint")
        try context.writeMetrics(metrics, details: [
            "classes": .array(labels.classes.map { .string($0) }), "classifier": .string(outcome.selection.name),
            "checkpoint": ck == nil ? .string("none: pretrained on the data's training cells") : .string(try context.string("checkpoint")),
        ])
        context.emit(JobEvent(kind: .progress, phase: "write", step: 1, total: 1))
    }

    static func fraction(_ labels: [Int], rows: [Int]) -> Double {
        rows.isEmpty ? .nan : Double(rows.filter { labels[$0] < 0 }.count) / Double(rows.count)
    }

    /// The predicted-label columns and `uns['annotate']` for one set of cells.
    static func annotations(column: String, classes: [String], outcome: LabelTransfer.Outcome, s: Settings,
                            context: WorkflowContext) -> H5ADExtras {
        var x = H5ADExtras()
        let unknown = classes.contains("Unknown") ? "Unknown (low confidence)" : "Unknown"
        x.obs["predicted_\(column)"] = .categorical(Categorical(codes: outcome.labels.map { Int32($0 < 0 ? classes.count : $0) },
                                                                categories: classes + [unknown]))
        x.obs["predicted_\(column)_confidence"] = .float(outcome.confidence)
        x.tessera = [("workflow", .string(name)), ("version", .string(context.spec.version)), ("parameters", .string(context.parametersJSON()))]
        x.uns = [("annotate", .dict([
            ("label_column", .string(column)), ("classes", .strings(classes)), ("classifier", .string(outcome.selection.name)),
            ("min_confidence", .number(s.minConfidence)), ("unknown_label", .string(unknown)),
            ("validation_macro_f1", .dict(outcome.validationMacroF1.sorted { $0.key < $1.key }
                .map { ($0.key, .number($0.value.isFinite ? $0.value : -1)) })),
        ]))]
        return x
    }
}
