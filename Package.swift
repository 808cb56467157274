// swift-tools-version:6.0
// Tessera: a spatial-transcriptomics workbench. Module map and boundaries: ../shared/DESIGN.md.
import PackageDescription

// The numeric modules are optimised in debug builds too (the test suite trains real models), and on x86-64
// they target AVX2 + FMA (Haswell, 2013, and later), which doubles the width of our element-wise kernels.
#if arch(x86_64)
let numeric: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug)), .unsafeFlags(["-target-cpu", "haswell"])]
#else
let numeric: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]
#endif

let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tessera", targets: ["tessera"]),
        .executable(name: "tessera-bench", targets: ["tessera-bench"]),
        .executable(name: "tesserad", targets: ["tesserad"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        // Thin C bridges. Each is a system-library module whose header adds a few static inline shims
        // for what Swift cannot import (HDF5's H5T_NATIVE_* macros, libpng's version constant).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        .target(name: "Tensor", dependencies: ["CBLAS"], swiftSettings: numeric),
        .target(name: "SpatialData", dependencies: ["Tensor", "CHDF5", "CPNG", "CZlib"]),
        .target(name: "CellLM", dependencies: ["Tensor"], swiftSettings: numeric),
        .target(name: "Analysis", dependencies: ["Tensor", "CBLAS"], swiftSettings: numeric),
        .target(name: "Render", dependencies: ["Tensor", "CPNG"], swiftSettings: numeric),
        .target(name: "Workflows", dependencies: ["SpatialData", "CellLM", "Analysis", "Tensor", "Render"]),
        .target(name: "Store", dependencies: [.product(name: "GRDB", package: "GRDB.swift")]),
        // Daemon is optimised in debug too: it hashes dataset files (SHA-256) when they are registered.
        .target(name: "Daemon", dependencies: ["Store", "Workflows", "Render", .product(name: "Hummingbird", package: "hummingbird"),
                                               .product(name: "HummingbirdCore", package: "hummingbird")],
                swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),

        .executableTarget(name: "tessera", dependencies: [
            "SpatialData",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "tesserad", dependencies: [
            "Daemon", "Store", "Workflows",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "tessera-bench", dependencies: [
            "SpatialData", "CellLM", "Workflows", "Analysis", "Store", "Daemon", "Render",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "CellLMTests", dependencies: ["CellLM", "Tensor", "Workflows", "SpatialData"], resources: [.copy("Fixtures")]),
        .testTarget(name: "AnalysisTests", dependencies: ["Analysis", "Tensor", "SpatialData"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StoreTests", dependencies: ["Store"]),
        .testTarget(name: "WorkflowsTests", dependencies: ["Workflows", "CellLM", "SpatialData", "Analysis", "Tensor", "Render"]),
        .testTarget(name: "DaemonTests", dependencies: [
            "Daemon", "Store", "Workflows", "SpatialData", "CellLM",
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .testTarget(name: "SpatialDataTests", dependencies: ["SpatialData", "Tensor"]),
        .testTarget(name: "RenderTests", dependencies: ["Render", "SpatialData", "Tensor", "Workflows"]),
        // Drives the built tesserad/tessera and Debian's headless Chromium; needs them built first.
        .testTarget(name: "ViewerTests", dependencies: ["Render"]),
    ]
)
