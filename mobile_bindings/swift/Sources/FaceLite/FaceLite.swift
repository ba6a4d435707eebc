// FaceLite: the face pipeline from Swift, mirroring facelite/analyzer.h one to one and the
// Kotlin API's shape (FaceLite.createFromOptions, analyze, close). The C core does the work,
// so the answers are the Python runtime's (tests/mobile_bindings/test_pipeline_parity.py).
//
//     let faceLite = try FaceLite.createFromOptions(Options(bundlesDir: bundlesURL.path, accelerator: .auto))
//     let result = try faceLite.analyze(pixelBuffer: frame)        // kCVPixelFormatType_32BGRA
//     for face in result.faces { print(face.box, face.expression?.label ?? "-") }
//     faceLite.close()
import CFacelite
import CoreVideo
import Foundation

/// Where models run (`fl_accelerator`); each stage falls back to the CPU on its own.
public enum Accelerator: Int { case auto = 0, cpu = 1, gpu = 2, npu = 3 }

/// The pipeline's bundles (`fl_stage`).
public enum Stage: Int, CaseIterable { case detector = 0, landmarks = 1, expression = 2, acne = 3 }

/// Byte order of one pixel (`fl_pixel_format`); alpha is ignored.
public enum PixelFormat: Int { case gray = 1, rgb = 2, bgr = 3, rgba = 4, bgra = 5 }

/// `fl_analyzer_options`.
public struct Options {
    public var bundlesDir: String?
    public var bundlePaths: [Stage: String]
    public var variant: String
    public var accelerator: Accelerator
    public var threads: Int
    public var minFaceScore: Double?
    public var maxFaces: Int

    public init(bundlesDir: String? = nil, bundlePaths: [Stage: String] = [:], variant: String = "auto",
                accelerator: Accelerator = .auto, threads: Int = 2, minFaceScore: Double? = nil, maxFaces: Int = 10) {
        self.bundlesDir = bundlesDir
        self.bundlePaths = bundlePaths
        self.variant = variant
        self.accelerator = accelerator
        self.threads = threads
        self.minFaceScore = minFaceScore
        self.maxFaces = maxFaces
    }
}

/// A failure of the C core: its status name ("io", "bundle_invalid", ...) and message.
public struct FaceLiteError: Error, CustomStringConvertible {
    public let status: String
    public let message: String
    public var description: String { message }

    public init(status: String, message: String) {
        self.status = status
        self.message = message
    }

    init(_ err: fl_error) {
        var e = err
        let message = withUnsafeBytes(of: &e.message) { raw in
            String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
        self.init(status: String(cString: fl_status_name(e.code)), message: message)
    }
}

public struct Box: Equatable { public let x, y, w, h, score: Double }
public struct Point: Equatable { public let x, y: Float }

/// A classifier's answer: the best label and every label's score, in the bundle's order.
public struct Classification: Equatable {
    public let label: String
    public let score: Float
    public let labels: [String]
    public let scores: [Float]
}

/// `redness`: the mean CIELAB a* over the skin regions (docs/skin.md), nil when they hold no pixel.
public struct Skin: Equatable {
    public let redness: Double?
    public let acneSeverity: Double?
    public let acne: Classification?
}

public struct Face: Equatable {
    public let box: Box
    public let landmarks: [Point]              // 68, iBUG order
    public let regions: [String: [Point]]      // fl_region_name's seven names
    public let expression: Classification?
    public let skin: Skin
}

public struct Timings: Equatable {
    public let loadMs, detectMs, landmarksMs, alignRegionsMs, expressionMs, skinMs, totalMs: Double
}

public struct AnalysisResult: Equatable {
    public let imageWidth, imageHeight: Int
    public let detector: String
    public let stages: [String: String]
    public let faces: [Face]
    public let timingsMs: Timings
}

/// The face pipeline (`fl_analyzer`); one image at a time per instance.
public final class FaceLite {
    private var analyzer: OpaquePointer?
    private let lock = NSLock()

    private init(_ analyzer: OpaquePointer) { self.analyzer = analyzer }

    deinit { close() }

    /// `fl_analyzer_create`.
    public static func createFromOptions(_ options: Options) throws -> FaceLite {
        var owned: [UnsafeMutablePointer<CChar>] = []
        defer { owned.forEach { free($0) } }
        func c(_ s: String?) -> UnsafePointer<CChar>? {
            guard let s = s, let p = strdup(s) else { return nil }
            owned.append(p)
            return UnsafePointer(p)
        }
        var o = fl_analyzer_options()
        fl_analyzer_options_init(&o)
        o.bundles_dir = c(options.bundlesDir)
        o.bundle_paths = (c(options.bundlePaths[.detector]), c(options.bundlePaths[.landmarks]),
                          c(options.bundlePaths[.expression]), c(options.bundlePaths[.acne]))
        o.variant = c(options.variant)
        o.accelerator = fl_accelerator(rawValue: UInt32(options.accelerator.rawValue))
        o.threads = Int32(options.threads)
        o.min_face_score = options.minFaceScore ?? -1
        o.max_faces = Int32(options.maxFaces)
        var err = fl_error()
        var analyzer: OpaquePointer?
        guard fl_analyzer_create(&o, &analyzer, &err) == FL_OK, let a = analyzer else { throw FaceLiteError(err) }
        return FaceLite(a)
    }

    /// What runs at each stage: "bundle:<name>" or "skipped (no bundle)" (`fl_analyzer_stage`).
    public func stage(_ stage: Stage) -> String {
        lock.lock()
        defer { lock.unlock() }
        guard let a = analyzer, let s = fl_analyzer_stage(a, fl_stage(rawValue: UInt32(stage.rawValue))) else { return "" }
        return String(cString: s)
    }

    /// A camera frame or image buffer in kCVPixelFormatType_32BGRA.
    public func analyze(pixelBuffer: CVPixelBuffer) throws -> AnalysisResult {
        guard CVPixelBufferGetPixelFormatType(pixelBuffer) == kCVPixelFormatType_32BGRA else {
            throw FaceLiteError(status: "unsupported",
                                message: "pixel buffer format is not kCVPixelFormatType_32BGRA; convert it first")
        }
        CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }
        guard let base = CVPixelBufferGetBaseAddress(pixelBuffer) else {
            throw FaceLiteError(status: "invalid_argument", message: "the pixel buffer has no base address")
        }
        return try analyze(pixels: base, width: CVPixelBufferGetWidth(pixelBuffer),
                           height: CVPixelBufferGetHeight(pixelBuffer),
                           bytesPerRow: CVPixelBufferGetBytesPerRow(pixelBuffer), format: .bgra)
    }

    /// `fl_analyze` over pixels the caller holds.
    public func analyze(pixels: UnsafeRawPointer, width: Int, height: Int, bytesPerRow: Int,
                        format: PixelFormat) throws -> AnalysisResult {
        lock.lock()
        defer { lock.unlock() }
        guard let a = analyzer else { throw FaceLiteError(status: "invalid_argument", message: "FaceLite is closed") }
        var image = fl_image(pixels: pixels.assumingMemoryBound(to: UInt8.self), width: Int32(width),
                             height: Int32(height), stride: bytesPerRow,
                             format: fl_pixel_format(rawValue: UInt32(format.rawValue)))
        var err = fl_error()
        var result: OpaquePointer?
        guard fl_analyze(a, &image, &result, &err) == FL_OK, let r = result else { throw FaceLiteError(err) }
        return collect(r)
    }

    /// `fl_analyze_file`: a JPEG or PNG decoded by the C core.
    public func analyze(path: String) throws -> AnalysisResult {
        lock.lock()
        defer { lock.unlock() }
        guard let a = analyzer else { throw FaceLiteError(status: "invalid_argument", message: "FaceLite is closed") }
        var err = fl_error()
        var result: OpaquePointer?
        guard fl_analyze_file(a, path, &result, &err) == FL_OK, let r = result else { throw FaceLiteError(err) }
        return collect(r)
    }

    /// `fl_analyzer_destroy`; later calls throw.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        if let a = analyzer { fl_analyzer_destroy(a) }
        analyzer = nil
    }

    private func classification(_ c: UnsafePointer<fl_classification>?) -> Classification? {
        guard let c = c?.pointee else { return nil }
        let n = Int(c.count)
        return Classification(label: String(cString: c.label), score: c.score,
                              labels: (0..<n).map { String(cString: c.labels[$0]!) },
                              scores: (0..<n).map { c.scores[$0] })
    }

    private func collect(_ r: OpaquePointer) -> AnalysisResult {
        func points(_ p: UnsafePointer<Float>, _ n: Int) -> [Point] {
            (0..<n).map { Point(x: p[2 * $0], y: p[2 * $0 + 1]) }
        }
        var faces: [Face] = []
        for i in 0..<fl_result_face_count(r) {
            let b = fl_result_box(r, i)!.pointee
            var regions: [String: [Point]] = [:]
            for k in 0..<Int(FL_REGION_COUNT) {
                var n = 0
                let poly = fl_result_region_at(r, i, k, &n)!
                regions[String(cString: fl_region_name(k))] = points(poly, n)
            }
            let skin = fl_result_skin(r, i)!.pointee
            faces.append(Face(box: Box(x: b.x, y: b.y, w: b.w, h: b.h, score: b.score),
                              landmarks: points(fl_result_landmarks(r, i)!, Int(FL_LANDMARK_COUNT)),
                              regions: regions, expression: classification(fl_result_expression(r, i)),
                              skin: Skin(redness: skin.has_redness != 0 && !skin.redness.isNaN ? skin.redness : nil, acneSeverity: skin.has_acne_severity != 0 ? skin.acne_severity : nil,
                                         acne: classification(fl_result_acne(r, i)))))
        }
        let keys = ["detector", "landmarks", "expression", "acne"]
        var stages: [String: String] = [:]
        for s in Stage.allCases {
            stages[keys[s.rawValue]] = String(cString: fl_result_stage(r, fl_stage(rawValue: UInt32(s.rawValue))))
        }
        let t = fl_result_timings(r)!.pointee
        return AnalysisResult(imageWidth: Int(fl_result_image_width(r)), imageHeight: Int(fl_result_image_height(r)),
                              detector: String(cString: fl_result_detector(r)), stages: stages, faces: faces,
                              timingsMs: Timings(loadMs: t.load_ms, detectMs: t.detect_ms, landmarksMs: t.landmarks_ms,
                                                 alignRegionsMs: t.align_regions_ms, expressionMs: t.expression_ms,
                                                 skinMs: t.skin_ms, totalMs: t.total_ms))
    }
}
