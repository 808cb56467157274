import Foundation

/// One Visium library's images and scale factors, kept as `sc.read_visium` keeps them in
/// `uns['spatial'][library_id]` so `sc.pl.spatial` and squidpy's `spatial_scatter` draw spots on the tissue:
/// `images['hires' | 'lowres']` (H×W×3 float32 in [0, 1], as matplotlib reads a PNG) and `scalefactors`
/// (`tissue_hires_scalef`, `tissue_lowres_scalef`, `spot_diameter_fullres`, `fiducial_diameter_fullres`), which
/// map the full-resolution pixel coordinates of `obsm['spatial']` onto each image.
public struct SpatialLibrary: Sendable, Equatable {
    public var id: String
    public var images: [String: Image]
    public var scalefactors: [String: Double]

    public init(id: String, images: [String: Image] = [:], scalefactors: [String: Double] = [:]) {
        self.id = id; self.images = images; self.scalefactors = scalefactors
    }

    /// An RGB image, row-major H×W×3, values in [0, 1].
    public struct Image: Sendable, Equatable {
        public var height: Int, width: Int
        public var pixels: [Float]
        public init(height: Int, width: Int, pixels: [Float]) { self.height = height; self.width = width; self.pixels = pixels }
    }
}
