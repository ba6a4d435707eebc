// FaceLite: the face pipeline from Swift, mirroring facelite/analyzer.h one to one and the
// Kotlin API's shape (FaceLite.createFromOptions, analyze, close). The C core does the work,
// so the answers are the Python runtime's (tests/mobile_bindings/test_pipeline_parity.py).
//
//     let faceLite = try FaceLite.createFromOptions(Options(bundlesDir: bundlesURL.path, accelerator: .auto))
//     let result = try faceLite.analyze(pixelBuffer: frame)        // kCVPixelFormatType_32BGRA
//     for face in result.faces { print(face.box, face.expression?.label ?? "-") }
//     faceLite.close()
//
// VIDEO mode (docs/video.md): `Options(runningMode: .video)`, then each camera frame in order
// from the capture callback's queue (AVCaptureVideoDataOutput with
// alwaysDiscardsLateVideoFrames = true drops the frames that arrive while it is busy):
//
//     let result = try faceLite.analyzeVideoFrame(pixelBuffer: frame, timestampMs: ms)  // increasing
//     for face in result.faces { print(face.trackId!, face.box) }                        // the same face, the same id
//     faceLite.reset()                                                                   // a new clip
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

/// How an analyzer is fed (`fl_running_mode`): `.image` (`analyze`, every image on its own) or
/// `.video` (`analyzeVideoFrame`, the frames of one clip in order, faces tracked and smoothed).
/// There is no live-stream mode: the app's capture queue feeds `analyzeVideoFrame`.
public enum RunningMode: Int { case image = 0, video = 1 }

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
    public var runningMode: RunningMode
    /// VIDEO: the detector runs at least every this many frames (and when a track is lost); >= 1.
    public var detectEveryNFrames: Int
    /// VIDEO: a track's expression / skin run on its frames 0, n, 2n, ...; in between the face carries the last result.
    public var expressionEveryNFrames: Int
    public var skinEveryNFrames: Int
    /// VIDEO: One Euro smoothing of points and expression probabilities; false reports the raw values.
    public var smoothing: Bool

    public init(bundlesDir: String? = nil, bundlePaths: [Stage: String] = [:], variant: String = "auto",
                accelerator: Accelerator = .auto, threads: Int = 1, minFaceScore: Double? = nil, maxFaces: Int = 10,
                skin: Bool = true, restore: Bool = false, runningMode: RunningMode = .image,
                detectEveryNFrames: Int = 15, expressionEveryNFrames: Int = 1, skinEveryNFrames: Int = 10,
                smoothing: Bool = true) {
        self.bundlesDir = bundlesDir
        self.bundlePaths = bundlePaths
        self.variant = variant
        self.accelerator = accelerator
        self.threads = threads
        self.minFaceScore = minFaceScore
        self.maxFaces = maxFaces
        self.skin = skin
        self.restore = restore
        self.runningMode = runningMode
        self.detectEveryNFrames = detectEveryNFrames
        self.expressionEveryNFrames = expressionEveryNFrames
        self.skinEveryNFrames = skinEveryNFrames
        self.smoothing = smoothing
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
    public let trackId: Int?                    // VIDEO: the face's track (`fl_result_track_id`); nil for an image
}

public struct Timings: Equatable {
    public let loadMs, detectMs, landmarksMs, alignRegionsMs, expressionMs, skinMs, totalMs: Double
    public let smoothingMs: Double?            // VIDEO only
}

public struct AnalysisResult: Equatable {
    public let imageWidth, imageHeight: Int
    public let detector: String
    public let stages: [String: String]
    public let faces: [Face]
    public let timingsMs: Timings
    public let timestampMs: Int64?             // VIDEO: the frame's (`fl_result_timestamp_ms`); nil for an image
}

/// The face pipeline (`fl_analyzer`); one image at a time per instance.
public final class FaceLite {
    private var analyzer: OpaquePointer?
    private let runningMode: RunningMode
    private let lock = NSLock()

    private init(_ analyzer: OpaquePointer, _ runningMode: RunningMode) {
        self.analyzer = analyzer
        self.runningMode = runningMode
    }

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
        o.running_mode = fl_running_mode(rawValue: UInt32(options.runningMode.rawValue))
        o.detect_every_n_frames = Int32(options.detectEveryNFrames)
        o.expression_every_n_frames = Int32(options.expressionEveryNFrames)
        o.skin_every_n_frames = Int32(options.skinEveryNFrames)
        o.smoothing = options.smoothing ? 1 : 0
        var err = fl_error()
        var analyzer: OpaquePointer?
        guard fl_analyzer_create(&o, &analyzer, &err) == FL_OK, let a = analyzer else { throw FaceLiteError(err) }
        return FaceLite(a, options.runningMode)
    }

    /// What runs at each stage: "bundle:<name>", "skipped (...)" or "off" (`fl_analyzer_stage`).
    public func stage(_ stage: Stage) -> String {
        lock.lock()
        defer { lock.unlock() }
        guard let a = analyzer, let s = fl_analyzer_stage(a, fl_stage(rawValue: UInt32(stage.rawValue))) else { return "" }
        return String(cString: s)
    }

    /// A camera frame or image buffer in kCVPixelFormatType_32BGRA. IMAGE mode.
    public func analyze(pixelBuffer: CVPixelBuffer) throws -> AnalysisResult {
        try withPixels(of: pixelBuffer) { try analyze(pixels: $0, width: $1, height: $2, bytesPerRow: $3, format: .bgra) }
    }

    /// `fl_analyze` over pixels the caller holds. IMAGE mode.
    public func analyze(pixels: UnsafeRawPointer, width: Int, height: Int, bytesPerRow: Int,
                        format: PixelFormat) throws -> AnalysisResult {
        var image = fl_image(pixels: pixels.assumingMemoryBound(to: UInt8.self), width: Int32(width),
                             height: Int32(height), stride: bytesPerRow,
                             format: fl_pixel_format(rawValue: UInt32(format.rawValue)))
        return try run(.image, "analyze") { fl_analyze($0, &image, $1, $2) }
    }

    /// `fl_analyze_file`: a JPEG or PNG decoded by the C core. IMAGE mode.
    public func analyze(path: String) throws -> AnalysisResult {
        try run(.image, "analyze") { fl_analyze_file($0, path, $1, $2) }
    }

    /// VIDEO mode: the next camera frame (kCVPixelFormatType_32BGRA) at `timestampMs`, which must
    /// be greater than the previous frame's (`fl_analyze_video_frame`); faces keep their `trackId`.
    public func analyzeVideoFrame(pixelBuffer: CVPixelBuffer, timestampMs: Int64) throws -> AnalysisResult {
        try withPixels(of: pixelBuffer) {
            try analyzeVideoFrame(pixels: $0, width: $1, height: $2, bytesPerRow: $3, format: .bgra,
                                  timestampMs: timestampMs)
        }
    }

    /// `fl_analyze_video_frame` over pixels the caller holds.
    public func analyzeVideoFrame(pixels: UnsafeRawPointer, width: Int, height: Int, bytesPerRow: Int,
                                  format: PixelFormat, timestampMs: Int64) throws -> AnalysisResult {
        var image = fl_image(pixels: pixels.assumingMemoryBound(to: UInt8.self), width: Int32(width),
                             height: Int32(height), stride: bytesPerRow,
                             format: fl_pixel_format(rawValue: UInt32(format.rawValue)))
        return try run(.video, "analyzeVideoFrame") { fl_analyze_video_frame($0, &image, timestampMs, $1, $2) }
    }

    /// `fl_analyze_video_frame_file`: a JPEG or PNG frame decoded by the C core.
    public func analyzeVideoFrame(path: String, timestampMs: Int64) throws -> AnalysisResult {
        try run(.video, "analyzeVideoFrame") { fl_analyze_video_frame_file($0, path, timestampMs, $1, $2) }
    }

    /// `fl_analyzer_reset`: a new clip (no tracks, ids from 0, any timestamp next).
    public func reset() {
        lock.lock()
        defer { lock.unlock() }
        if let a = analyzer { fl_analyzer_reset(a) }
    }

    /// A 32BGRA pixel buffer's base address, size and row bytes, locked for reading during `body`.
    private func withPixels(of pixelBuffer: CVPixelBuffer,
                            _ body: (UnsafeRawPointer, Int, Int, Int) throws -> AnalysisResult) throws -> AnalysisResult {
        guard CVPixelBufferGetPixelFormatType(pixelBuffer) == kCVPixelFormatType_32BGRA else {
            throw FaceLiteError(status: "unsupported",
                                message: "pixel buffer format is not kCVPixelFormatType_32BGRA; convert it first")
        }
        CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly)
        defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }
        guard let base = CVPixelBufferGetBaseAddress(pixelBuffer) else {
            throw FaceLiteError(status: "invalid_argument", message: "the pixel buffer has no base address")
        }
        return try body(UnsafeRawPointer(base), CVPixelBufferGetWidth(pixelBuffer),
                        CVPixelBufferGetHeight(pixelBuffer), CVPixelBufferGetBytesPerRow(pixelBuffer))
    }

    /// One analyze call of `mode` under the lock: `call(analyzer, &result, &err)`, then the result copied out.
    private func run(_ mode: RunningMode, _ name: String,
                     _ call: (OpaquePointer, UnsafeMutablePointer<OpaquePointer?>, UnsafeMutablePointer<fl_error>) -> fl_status)
        throws -> AnalysisResult {
        lock.lock()
        defer { lock.unlock() }
        guard let a = analyzer else { throw FaceLiteError(status: "invalid_argument", message: "FaceLite is closed") }
        guard mode == runningMode else {
            let right = runningMode == .video ? "analyzeVideoFrame(..., timestampMs:)" : "analyze(...)"
            throw FaceLiteError(status: "invalid_argument",
                                message: "\(name): this FaceLite runs in \(runningMode) mode (Options.runningMode); give it " +
                                         "frames with \(right), or create one with Options(runningMode: .\(mode)) for \(name)")
        }
        var err = fl_error()
        var result: OpaquePointer?
        guard call(a, &result, &err) == FL_OK, let r = result else { throw FaceLiteError(err) }
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
        var timestampMs: Int64 = 0
        let video = fl_result_timestamp_ms(r, &timestampMs) != 0
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
                              skin: skinReport(r, i), trackId: video ? Int(fl_result_track_id(r, i)) : nil))
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
                                                 skinMs: t.skin_ms, totalMs: t.total_ms,
                                                 smoothingMs: t.smoothing_ms.isNaN ? nil : t.smoothing_ms),
                              timestampMs: video ? timestampMs : nil)
    }
}
