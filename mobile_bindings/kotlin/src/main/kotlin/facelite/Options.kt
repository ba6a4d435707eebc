package facelite

/**
 * Where a model runs. AUTO tries the NPU, then the GPU, then the CPU; every stage falls back
 * to the CPU on its own, and [FaceLite.engines] says where each one ended up and why.
 */
enum class Accelerator(internal val code: Int) { AUTO(0), CPU(1), GPU(2), NPU(3) }

/**
 * The pipeline's bundles: the detector and landmarks are required, the others optional
 * (skin needs skin_metrics; acne one trained on face crops; restoration runs with
 * [Options.restore] only). [key] is the stage's name in [AnalysisResult.stages].
 */
enum class Stage(internal val code: Int, val bundleName: String) {
    DETECTOR(0, "face_detector"),
    LANDMARKS(1, "landmarks"),
    EXPRESSION(2, "expression"),
    SKIN_METRICS(3, "skin_metrics"),
    ACNE(4, "acne"),
    RESTORATION(5, "restoration");

    val key: String
        get() = if (this == DETECTOR) "detector" else bundleName
}

/**
 * How a [FaceLite] is fed (the C core's `fl_running_mode`, as `FaceAnalyzerOptions.running_mode`
 * in Python; docs/video.md). There is no LIVE_STREAM mode here: an app's camera callback
 * thread is the live stream (it feeds [FaceLite.analyzeVideoFrame] and the camera drops
 * the frames that arrive while it is busy; see the README).
 */
enum class RunningMode(internal val code: Int) {
    /** [FaceLite.analyze]: every image on its own; [Face.trackId] is null. */
    IMAGE(0),
    /** [FaceLite.analyzeVideoFrame]: the frames of one clip or camera stream in order, with
     *  strictly increasing timestamps; faces are tracked and their points smoothed. */
    VIDEO(1)
}

/**
 * How to build a [FaceLite] (the C core's `fl_analyzer_options`).
 *
 * @property bundlesDir a folder of `<name>/<name>.flb` bundles, used for every stage not in
 *   [bundlePaths]; on Android, copy the bundles out of the APK's assets first (see
 *   `android/`), or pass their paths.
 * @property bundlePaths a bundle file per stage, overriding [bundlesDir].
 * @property variant "auto" (each bundle's choice for the accelerator), "fp32", "fp16",
 *   "dynamic" or "int8"; the skin_metrics bundle (fp32 only) runs its own choice when it
 *   lacks this one.
 * @property minFaceScore detections below it are dropped; null: the detector bundle's own
 *   operating point.
 * @property skin run the skin analysis ([Face.skin]; needs a skin_metrics bundle).
 * @property restore let the skin analysis restore a low-resolution or noisy face crop
 *   (needs a restoration bundle).
 * @property runningMode IMAGE ([FaceLite.analyze]) or VIDEO ([FaceLite.analyzeVideoFrame]).
 * @property detectEveryNFrames VIDEO: the detector runs at least every this many frames to
 *   find new faces (and whenever a track is lost); at least 1.
 * @property expressionEveryNFrames VIDEO: a tracked face's expression runs on its frames 0,
 *   n, 2n, ...; in between the face carries its last (smoothed) result. At least 1.
 * @property skinEveryNFrames VIDEO: the same for the skin report (not smoothed). At least 1.
 * @property smoothing VIDEO: One Euro smoothing of the points and expression probabilities,
 *   so a still face gives still points; false reports the landmarker's raw values.
 */
data class Options(
    val bundlesDir: String? = null,
    val bundlePaths: Map<Stage, String> = emptyMap(),
    val variant: String = "auto",
    val accelerator: Accelerator = Accelerator.AUTO,
    val threads: Int = 1,
    val minFaceScore: Double? = null,
    val maxFaces: Int = 10,
    val skin: Boolean = true,
    val restore: Boolean = false,
    val runningMode: RunningMode = RunningMode.IMAGE,
    val detectEveryNFrames: Int = 15,
    val expressionEveryNFrames: Int = 1,
    val skinEveryNFrames: Int = 10,
    val smoothing: Boolean = true
)

/** What a stage's model runs on, and why when the CPU replaced the accelerator asked for. */
data class EngineInfo(val variant: String, val accelerator: String, val fallbackReason: String?)
