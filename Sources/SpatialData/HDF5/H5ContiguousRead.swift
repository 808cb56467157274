import CHDF5
import Dispatch
import Foundation

/// The fast path for large arrays: a contiguous, unfiltered dataset whose on-disk type is already the
/// native type asked for is a plain run of bytes at a known file offset, so it is read with `pread` on
/// several threads straight into the result (libhdf5 would copy it on one). Everything else, and any
/// dataset under 8 MiB, goes through `H5Dread`, the reference path the tests also exercise.
extension H5Dataset {
    static let parallelThreshold = 8 << 20

    func readContiguous<T>(_ memType: hid_t, as: T.Type) throws -> [T]? {
        let n = count
        let bytes = n * MemoryLayout<T>.stride
        guard bytes >= H5Dataset.parallelThreshold else { return nil }
        let offset: UInt64? = withHDF5 { () -> UInt64? in
            let dcpl = H5Dget_create_plist(id); defer { H5Pclose(dcpl) }
            guard H5Pget_layout(dcpl) == H5D_CONTIGUOUS, H5Pget_nfilters(dcpl) == 0,
                  H5Tequal(fileType, memType) > 0, H5Tget_size(fileType) == MemoryLayout<T>.stride,
                  Int(H5Dget_storage_size(id)) == bytes else { _ = hdf5ErrorMessage(); return nil }
            let o = H5Dget_offset(id)
            return o == haddr_t.max ? nil : UInt64(o)
        }
        guard let offset else { return nil }
        let fd = Foundation.open(file.path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var failed = false
        let out = [T](unsafeUninitializedCapacity: n) { buf, initialized in
            let raw = UnsafeMutableRawPointer(buf.baseAddress!)
            let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
            let chunk = (bytes + parts - 1) / parts
            let errors = UnsafeMutablePointer<Bool>.allocate(capacity: parts)
            errors.initialize(repeating: false, count: parts)
            defer { errors.deallocate() }
            // Addresses cross into the worker closure as integers; each worker owns a disjoint range.
            let base = Int(bitPattern: raw), errs = Int(bitPattern: errors)
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                var done = p * chunk
                let stop = min(bytes, done + chunk)
                while done < stop {
                    let r = pread(fd, UnsafeMutableRawPointer(bitPattern: base + done), stop - done, off_t(offset) + off_t(done))
                    if r <= 0 { UnsafeMutablePointer<Bool>(bitPattern: errs)![p] = true; return }
                    done += r
                }
            }
            failed = (0..<parts).contains { errors[$0] }
            initialized = n
        }
        if failed {
            throw fail(.corrupt, "its \(bytes) bytes at offset \(offset) cannot be read (the file is shorter than its header says)",
                       fix: "the file is truncated; copy it again from its source")
        }
        return out
    }
}
