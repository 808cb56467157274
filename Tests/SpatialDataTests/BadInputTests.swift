import Foundation
import Testing
import Tensor
@testable import SpatialData

/// Hand-made bad h5ad files: each gets a typed error naming the file, the field (and row) and a fix.
@Suite struct BadInputTests {
    /// Writes a valid toy file, then lets `edit` damage it with the HDF5 writer.
    func damaged(_ edit: (H5Group) throws -> Void) throws -> String {
        let path = TestEnv.tempDir() + "/bad.h5ad"
        try H5ADWriter.write(H5ADWriterTests.sample(), to: path)
        try withHDF5 {
            let f = try H5File.openForEditing(path)
            try edit(f.root)
        }
        return path
    }

    func expectError(_ path: String, _ kind: ImportError.Kind, field: String, row: Int? = nil, mentions: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try H5ADReader.read(path: path)
            Issue.record("expected \(kind) at \(field)", sourceLocation: sourceLocation)
        } catch let e as ImportError {
            #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
            #expect(e.file == path && (field.isEmpty || e.field.contains(field)), "\(e)", sourceLocation: sourceLocation)
            if let row { #expect(e.row == row, "\(e)", sourceLocation: sourceLocation) }
            #expect(e.description.contains(mentions) && e.description.contains("Fix:"), "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func truncatedFile() throws {
        let path = try damaged { _ in }
        let d = try Data(contentsOf: URL(fileURLWithPath: path))
        try d.prefix(d.count / 2).write(to: URL(fileURLWithPath: path))
        expectError(path, .corrupt, field: "", mentions: "copy it again")
    }

    @Test func notHDF5AtAll() throws {
        let path = TestEnv.tempDir() + "/text.h5ad"
        try "cell,gene\n1,2\n".write(toFile: path, atomically: true, encoding: .utf8)
        expectError(path, .corrupt, field: "", mentions: "not an HDF5 file")
    }

    @Test func missingXWhenAsked() throws {
        let path = try damaged { root in try root.delete("X") }
        do {
            _ = try H5ADReader.read(path: path, options: .init(counts: .x))
            Issue.record("expected a missing-field error")
        } catch let e as ImportError {
            #expect(e.kind == .missingField && e.field == "X" && e.fix.contains("choose one that exists"))
        }
    }

    @Test func notAnAnnData() throws {
        let path = try damaged { root in try root.delete("obs") }
        expectError(path, .missingField, field: "obs", mentions: "not an AnnData file")
    }

    @Test func indptrOfWrongLength() throws {
        let path = try damaged { root in
            let x = try root.group("X"); try x.delete("indptr"); try x.writeInt64s("indptr", [0, 2, 5])
        }
        expectError(path, .shapeMismatch, field: "X/indptr", mentions: "so it needs 5")
    }

    @Test func indptrDecreasing() throws {
        let path = try damaged { root in
            let x = try root.group("X"); try x.delete("indptr"); try x.writeInt64s("indptr", [0, 3, 1, 4, 6])
        }
        expectError(path, .shapeMismatch, field: "X/indptr", row: 1, mentions: "decreases")
    }

    @Test func indexOutOfRange() throws {
        let path = try damaged { root in
            let x = try root.group("X"); try x.delete("indices"); try x.writeInt32s("indices", [0, 2, 0, 7, 1, 2])
        }
        expectError(path, .shapeMismatch, field: "X/indices", row: 2, mentions: "index 7")
    }

    @Test func nanCount() throws {
        let path = try damaged { root in
            let x = try root.group("X"); try x.delete("data"); try x.writeFloats("data", [1, 2, 5, .nan, 3, 7])
        }
        expectError(path, .invalidValue, field: "X", row: 2, mentions: "NaN")
    }

    @Test func negativeCount() throws {
        let path = try damaged { root in
            let x = try root.group("X"); try x.delete("data"); try x.writeFloats("data", [1, 2, -5, 1, 3, 7])
        }
        expectError(path, .invalidValue, field: "X", row: 2, mentions: "negative value (-5.0)")
    }

    @Test func nonNumericCounts() throws {
        let path = try damaged { root in
            let x = try root.group("X"); try x.delete("data"); try x.writeStrings("data", ["1", "2", "5", "1", "3", "7"])
        }
        expectError(path, .invalidValue, field: "X/data", mentions: "not numbers")
    }

    @Test func duplicateCellIDs() throws {
        let path = try damaged { root in
            let obs = try root.group("obs"); try obs.delete("_index"); try obs.writeStrings("_index", ["c1", "c2", "c1", "c4"])
        }
        expectError(path, .duplicateID, field: "cell id", row: 2, mentions: "'c1' repeats (first at row 0)")
    }

    @Test func earliestRepeatIsReportedAmongMany() throws {
        var ids = (0..<100_000).map { "cell_\($0)" }
        ids[70_000] = "cell_5"       // a later repeat
        ids[40_000] = "cell_39999"   // the earliest repeat (row 40000 repeats row 39999)
        do {
            try Dataset.checkCellIDs(ids, file: "f")
            Issue.record("expected a duplicate")
        } catch let e as ImportError {
            #expect(e.kind == .duplicateID && e.row == 40_000 && e.problem.contains("first at row 39999"))
        }
        try Dataset.checkCellIDs((0..<100_000).map { "c\($0)" }, file: "f")
    }

    @Test func missingCoordinates() throws {
        let path = try damaged { root in
            let obsm = try root.group("obsm"); try obsm.delete("spatial")
            try obsm.writeDoubles("spatial", [0, 5, 10, .nan, 20, 7, 30, 8], shape: [4, 2])
        }
        expectError(path, .invalidValue, field: "y coordinate", row: 1, mentions: "cell 'c2' has no y position")
    }

    @Test func spatialOfWrongShape() throws {
        let path = try damaged { root in
            let obsm = try root.group("obsm"); try obsm.delete("spatial"); try obsm.writeDoubles("spatial", [0, 5, 10], shape: [3, 1])
        }
        expectError(path, .shapeMismatch, field: "obsm/spatial", mentions: "expected (4, 2)")
    }

    @Test func obsColumnOfWrongLength() throws {
        let path = try damaged { root in
            let obs = try root.group("obs"); try obs.delete("n_tx"); try obs.writeInt64s("n_tx", [1, 2, 3])
        }
        expectError(path, .shapeMismatch, field: "obs/n_tx", mentions: "has 3 values but the dataframe has 4 rows")
    }

    @Test func categoryCodeOutOfRange() throws {
        let path = try damaged { root in
            let c = try root.group("obs/cell_type"); try c.delete("codes"); try c.writeInt8s("codes", [0, 1, 5, 0])
        }
        expectError(path, .invalidValue, field: "obs/cell_type", row: 2, mentions: "code 5")
    }

    @Test func shapeAttributeDisagrees() throws {
        let path = try damaged { root in try root.group("X").setAttribute("shape", .ints([4, 9])) }
        expectError(path, .shapeMismatch, field: "X", mentions: "obs and var give 4 x 3")
    }
}
