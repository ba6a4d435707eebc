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

/// The pipeline's bundles (`fl_stage`); `key` is the stage's name in `AnalysisResult.stages`.
public enum Stage: Int, CaseIterable {
    case detector = 0, landmarks = 1, expression = 2, skinMetrics = 3, acne = 4, restoration = 5

    public var key: String {
        self == .detector ? "detector" : String(cString: fl_stage_bundle_name(fl_stage(rawValue: UInt32(rawValue))))
    }
}

/// Byte order of one pixel (`fl_pixel_format`); alpha is ignored.
public enum PixelFormat: Int { case gray = 1, rgb = 2, bgr = 3, rgba = 4, bgra = 5 }

/// `fl_analyzer_options`.
public struct Options {
    public var bundlesDir: String?
    public var bundlePaths: [Stage: String]
    /// "auto", "fp32", "fp16", "dynamic" or "int8"; the skin_metrics bundle (fp32 only) runs its own choice when it lacks it.
    public var variant: String
    public var accelerator: Accelerator
    public var threads: Int
    public var minFaceScore: Double?
    public var maxFaces: Int
    /// Run the skin analysis (needs a skin_metrics bundle); let it restore low-resolution or noisy crops.
    public var skin: Bool
    public var restore: Bool

    public init(bundlesDir: String? = nil, bundlePaths: [Stage: String] = [:], variant: String = "auto",
                accelerator: Accelerator = .auto, threads: Int = 2, minFaceScore: Double? = nil, maxFaces: Int = 10,
                skin: Bool = true, restore: Bool = false) {
        self.bundlesDir = bundlesDir
        self.bundlePaths = bundlePaths
        self.variant = variant
        self.accelerator = accelerator
        self.threads = threads
        self.minFaceScore = minFaceScore
        self.maxFaces = maxFaces
        self.skin = skin
        self.restore = restore
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

/// One concern in one region (`fl_concern_score`): 0-100 (higher = healthier), band, raw measure.
public struct ConcernScore: Equatable {
    public let score: Double
    public let band: String
    public let raw: Double
}

/// One check of the capture quality gate (`fl_skin_check`); `value` nil when not finite.
public struct QualityCheck: Equatable {
    public let code: String
    public let passed: Bool
    public let value: Double?
    public let threshold: Double
    public let message: String
}

/// A face's skin report (`fl_skin_report`, the Python runtime's `SkinReport`).
public struct SkinReport: Equatable {
    public let reliable: Bool
    public let restored: Bool
    public let checks: [QualityCheck]
    public let itaDeg: Double?
    public let tone: String?
    public let face: [String: ConcernScore]                // concern -> score
    public let regions: [String: [String: ConcernScore]]   // measured regions only
    public let lighting: [String: Double]
    public let models: [String: String]
    public let acne: Classification?
}

public struct Face: Equatable {
    public let box: Box
    public let landmarks: [Point]              // 68, iBUG order
    public let regions: [String: [Point]]      // fl_region_name's seven names
    public let expression: Classification?
    public let skin: SkinReport?                // nil: skin analysis off or no skin_metrics bundle
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
                          c(options.bundlePaths[.expression]), c(options.bundlePaths[.skinMetrics]),
                          c(options.bundlePaths[.acne]), c(options.bundlePaths[.restoration]))
        o.variant = c(options.variant)
        o.accelerator = fl_accelerator(rawValue: UInt32(options.accelerator.rawValue))
        o.threads = Int32(options.threads)
        o.min_face_score = options.minFaceScore ?? -1
        o.max_faces = Int32(options.maxFaces)
        o.skin = options.skin ? 1 : 0
        o.restore = options.restore ? 1 : 0
        var err = fl_error()
        var analyzer: OpaquePointer?
        guard fl_analyzer_create(&o, &analyzer, &err) == FL_OK, let a = analyzer else { throw FaceLiteError(err) }
        return FaceLite(a)
    }

    /// What runs at each stage: "bundle:<name>", "skipped (...)" or "off" (`fl_analyzer_stage`).
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

    /// Element `i` of a C fixed-size array (imported as a tuple of `E`).
    private func element<T, E>(_ tuple: T, _ i: Int, as _: E.Type) -> E {
        withUnsafeBytes(of: tuple) { $0.bindMemory(to: E.self)[i] }
    }

    private func concerns(_ tuple: (fl_concern_score, fl_concern_score, fl_concern_score, fl_concern_score,
                                    fl_concern_score, fl_concern_score)) -> [String: ConcernScore] {
        var out: [String: ConcernScore] = [:]
        for c in 0..<Int(FL_CONCERN_COUNT) {
            let s = element(tuple, c, as: fl_concern_score.self)
            guard s.measured != 0 else { continue }
            out[String(cString: fl_concern_name(fl_concern(rawValue: UInt32(c))))] =
                ConcernScore(score: s.score, band: String(cString: fl_band_name(s.band)), raw: s.raw)
        }
        return out
    }

    private func skinReport(_ r: OpaquePointer, _ i: Int) -> SkinReport? {
        guard let s = fl_result_skin(r, i)?.pointee else { return nil }
        let checks = (0..<Int(s.check_count)).map { k -> QualityCheck in
            let c = element(s.checks, k, as: fl_skin_check.self)
            return QualityCheck(code: String(cString: c.code), passed: c.passed != 0,
                                value: c.value.isNaN ? nil : c.value, threshold: c.threshold,
                                message: String(cString: c.message))
        }
        var regions: [String: [String: ConcernScore]] = [:]
        for k in 0..<Int(FL_REGION_COUNT) where element(s.region_measured, k, as: Int32.self) != 0 {
            regions[String(cString: fl_region_name(k))] = concerns(element(s.regions, k, as: type(of: s.face)))
        }
        var lighting: [String: Double] = [:]
        for k in 0..<Int(s.lighting_count) {
            lighting[String(cString: element(s.lighting_names, k, as: UnsafePointer<CChar>.self))] =
                element(s.lighting, k, as: Double.self)
        }
        var models: [String: String] = [:]
        for k in 0..<Int(s.model_count) {
            models[String(cString: element(s.model_names, k, as: UnsafePointer<CChar>.self))] =
                String(cString: element(s.model_versions, k, as: UnsafePointer<CChar>.self))
        }
        return SkinReport(reliable: s.reliable != 0, restored: s.restored != 0, checks: checks,
                          itaDeg: s.has_tone != 0 ? s.ita_deg : nil, tone: s.has_tone != 0 ? String(cString: s.tone) : nil,
                          face: concerns(s.face), regions: regions, lighting: lighting, models: models,
                          acne: classification(fl_result_acne(r, i)))
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
            faces.append(Face(box: Box(x: b.x, y: b.y, w: b.w, h: b.h, score: b.score),
                              landmarks: points(fl_result_landmarks(r, i)!, Int(FL_LANDMARK_COUNT)),
                              regions: regions, expression: classification(fl_result_expression(r, i)),
                              skin: skinReport(r, i)))
        }
        var stages: [String: String] = [:]
        for s in Stage.allCases {
            stages[s.key] = String(cString: fl_result_stage(r, fl_stage(rawValue: UInt32(s.rawValue))))
        }
        let t = fl_result_timings(r)!.pointee
        return AnalysisResult(imageWidth: Int(fl_result_image_width(r)), imageHeight: Int(fl_result_image_height(r)),
                              detector: String(cString: fl_result_detector(r)), stages: stages, faces: faces,
                              timingsMs: Timings(loadMs: t.load_ms, detectMs: t.detect_ms, landmarksMs: t.landmarks_ms,
                                                 alignRegionsMs: t.align_regions_ms, expressionMs: t.expression_ms,
                                                 skinMs: t.skin_ms, totalMs: t.total_ms))
    }
}
