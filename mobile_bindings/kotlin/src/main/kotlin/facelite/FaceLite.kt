package facelite

import java.nio.ByteBuffer

/**
 * The face pipeline on the JVM: detect, 68 landmarks, regions, expression and each face's
 * skin report (scores per concern and region, tone, capture quality), the same answers as
 * the Python runtime's `FaceAnalyzer` (the C core, `libfacelite`, does the work; this
 * class only moves pixels in and results out).
 *
 * ```
 * FaceLite.createFromOptions(Options(bundlesDir = "models", accelerator = Accelerator.CPU)).use { faceLite ->
 *     val result = faceLite.analyze("photo.jpg")          // decoded by the C core
 *     for (face in result.faces) println("${face.box} ${face.expression?.label}")
 * }
 * ```
 *
 * With `Options(runningMode = RunningMode.VIDEO)` it takes the frames of one clip or camera
 * stream in order instead (docs/video.md): faces are tracked from frame to frame
 * ([Face.trackId]), their points smoothed, and expression and skin run at their own rates.
 *
 * ```
 * FaceLite.createFromOptions(Options(bundlesDir = "models", runningMode = RunningMode.VIDEO)).use { faceLite ->
 *     for ((frame, ms) in frames) {                        // the camera thread, timestamps increasing
 *         val result = faceLite.analyzeVideoFrame(frame, ms)
 *         for (face in result.faces) println("#${face.trackId} ${face.box}")
 *     }
 * }
 * ```
 *
 * One instance analyses one image at a time (calls are serialised); make one per thread
 * for parallel work. [close] frees the native analyzer; later calls throw
 * IllegalStateException.
 */
class FaceLite private constructor(private var handle: Long, private val runningMode: RunningMode) : AutoCloseable {

    /** What runs at each stage: "bundle:<name>", "skipped (...)" or "off". */
    val stages: Map<Stage, String> = Stage.values().associate { it to (Native.stage(handle, it.code) ?: "") }

    /** Variant and accelerator of each stage that runs a bundle. */
    val engines: Map<Stage, EngineInfo> = Stage.values().mapNotNull { stage ->
        Native.engine(handle, stage.code)?.let { stage to EngineInfo(it[0] ?: "", it[1] ?: "", it[2]) }
    }.toMap()

    private val labels = HashMap<Stage, List<String>>()

    companion object {
        /** Open the bundles and load their models; FaceLiteException says what is wrong. */
        @JvmStatic
        fun createFromOptions(options: Options): FaceLite {
            val paths = arrayOfNulls<String>(Stage.values().size)
            for ((stage, path) in options.bundlePaths) paths[stage.code] = path
            val handle = Native.create(options.bundlesDir, paths, options.variant, options.accelerator.code,
                                       options.threads, options.minFaceScore ?: -1.0, options.maxFaces, options.skin,
                                       options.restore, options.runningMode.code, options.detectEveryNFrames,
                                       options.expressionEveryNFrames, options.skinEveryNFrames, options.smoothing)
            return FaceLite(handle, options.runningMode)
        }

        /** A JPEG or PNG file decoded by the C core (EXIF orientation applied) to BGR pixels. */
        @JvmStatic
        fun decode(path: String): Image {
            val size = IntArray(2)
            val bytes = Native.decode(path, size)
            return Image(ByteBuffer.wrap(bytes), size[0], size[1], size[0] * 3, PixelFormat.BGR)
        }
    }

    /** Analyse pixels the caller holds (a Bitmap's, a photo's). IMAGE mode. */
    @Synchronized
    fun analyze(image: Image): AnalysisResult {
        val h = open(RunningMode.IMAGE, "analyze")
        analyzePixels(h, image, false, 0L)
        return collect(h)
    }

    /** Analyse pixels in a buffer: [rowStride] bytes per row of [width] pixels of [format]. */
    fun analyze(pixels: ByteBuffer, width: Int, height: Int, rowStride: Int, format: PixelFormat): AnalysisResult =
        analyze(Image(pixels, width, height, rowStride, format))

    /** Decode a JPEG or PNG file (the C core's decoder) and analyse it. IMAGE mode. */
    @Synchronized
    fun analyze(path: String): AnalysisResult {
        val h = open(RunningMode.IMAGE, "analyze")
        Native.analyzeFile(h, path, false, 0L)
        return collect(h)
    }

    /**
     * VIDEO mode: the next frame of the clip (a camera frame's pixels) taken at [timestampMs],
     * which must be greater than the previous frame's (FaceLiteException "invalid_argument"
     * naming both otherwise; that frame is then skipped and the clip goes on). Faces keep
     * their [Face.trackId] from frame to frame; the detector runs when there is no track,
     * every [Options.detectEveryNFrames] frames, or when a track is lost (`fl_analyze_video_frame`).
     */
    @Synchronized
    fun analyzeVideoFrame(frame: Image, timestampMs: Long): AnalysisResult {
        val h = open(RunningMode.VIDEO, "analyzeVideoFrame")
        analyzePixels(h, frame, true, timestampMs)
        return collect(h)
    }

    /** [analyzeVideoFrame] on a JPEG or PNG file decoded by the C core (`fl_analyze_video_frame_file`). */
    @Synchronized
    fun analyzeVideoFrame(path: String, timestampMs: Long): AnalysisResult {
        val h = open(RunningMode.VIDEO, "analyzeVideoFrame")
        Native.analyzeFile(h, path, true, timestampMs)
        return collect(h)
    }

    /** Start a new clip: no tracks (ids from 0 again), any timestamp accepted next
     *  (`fl_analyzer_reset`). Harmless in IMAGE mode. */
    @Synchronized
    fun reset() = Native.reset(open())

    /** The last result as the C core's JSON (`fl_result_json`): exact values, or rounded as
     *  `facelite analyze --json` prints them. */
    @Synchronized
    fun lastResultJson(exact: Boolean = false): String = Native.resultJson(open(), exact) ?: ""

    @Synchronized
    override fun close() {
        if (handle != 0L) Native.destroy(handle)
        handle = 0L
    }

    private fun open(): Long {
        check(handle != 0L) { "this FaceLite is closed" }
        return handle
    }

    /** The handle, after checking that [call] is this instance's running mode's call. */
    private fun open(mode: RunningMode, call: String): Long {
        val h = open()
        if (mode != runningMode) {
            val right = if (runningMode == RunningMode.VIDEO) "analyzeVideoFrame(frame, timestampMs)" else "analyze(image)"
            throw FaceLiteException("invalid_argument", "$call: this FaceLite runs in $runningMode mode " +
                "(Options.runningMode); give it frames with $right, or create one with " +
                "Options(runningMode = RunningMode.$mode) for $call")
        }
        return h
    }

    /** Hand [image]'s pixels to the C core in place when the buffer allows it, else a copy. */
    private fun analyzePixels(h: Long, image: Image, video: Boolean, timestampMs: Long) {
        val buffer = image.pixels
        when {
            buffer.isDirect -> Native.analyzePixels(h, buffer, null, buffer.position(), image.width, image.height,
                                                    image.rowStride, image.format.code, video, timestampMs)
            buffer.hasArray() -> Native.analyzePixels(h, null, buffer.array(), buffer.arrayOffset() + buffer.position(),
                                                      image.width, image.height, image.rowStride, image.format.code,
                                                      video, timestampMs)
            else -> {
                val copy = ByteBuffer.allocateDirect(buffer.remaining()).put(buffer.duplicate())
                Native.analyzePixels(h, copy, null, 0, image.width, image.height, image.rowStride, image.format.code,
                                     video, timestampMs)
            }
        }
    }

    private fun labelsOf(h: Long, stage: Stage): List<String> =
        labels.getOrPut(stage) { Native.labels(h, stage.code)?.toList() ?: emptyList() }

    private fun classifications(h: Long, stage: Stage, faces: Int): List<Classification?> {
        val scores = Native.scores(h, stage.code) ?: return List(faces) { null }
        val names = labelsOf(h, stage)
        val k = names.size
        return List(faces) { i ->
            val row = scores.copyOfRange(i * k, (i + 1) * k)
            var best = 0
            for (j in 1 until k) if (row[j] > row[best]) best = j
            Classification(names[best], row[best], names.indices.associate { names[it] to row[it] })
        }
    }

    private fun collect(h: Long): AnalysisResult {
        val size = Native.imageSize(h)
        val boxes = Native.boxes(h)
        val faces = boxes.size / 5
        val points = Native.points(h)
        val regionSizes = Native.regionSizes(h) ?: IntArray(0)
        val regionNames = regionSizes.indices.map { Native.regionName(it) ?: "" }
        val perFace = 2 * (68 + regionSizes.sum())
        val expressions = classifications(h, Stage.EXPRESSION, faces)
        val acne = classifications(h, Stage.ACNE, faces)
        val video = Native.video(h)  // null for an image; else the timestamp, then each face's track id
        val stageNames = LinkedHashMap<String, String>()
        for (stage in Stage.values()) stageNames[stage.key] = stages.getValue(stage)
        val list = (0 until faces).map { i ->
            fun pointsAt(from: Int, count: Int) =
                (0 until count).map { Point(points[i * perFace + from + 2 * it], points[i * perFace + from + 2 * it + 1]) }
            var at = 2 * 68
            val regions = LinkedHashMap<String, List<Point>>()
            for ((k, name) in regionNames.withIndex()) {
                regions[name] = pointsAt(at, regionSizes[k])
                at += 2 * regionSizes[k]
            }
            Face(Box(boxes[5 * i], boxes[5 * i + 1], boxes[5 * i + 2], boxes[5 * i + 3], boxes[5 * i + 4]),
                 pointsAt(0, 68), regions, expressions[i], skinReport(h, i, regionNames, acne[i]),
                 stages.getValue(Stage.LANDMARKS), video?.let { it[1 + i].toInt() })
        }
        val t = Native.timings(h)
        return AnalysisResult(size[0], size[1], stages.getValue(Stage.DETECTOR), stageNames, list,
                              Timings(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7].takeUnless { it.isNaN() }),
                              video?.get(0))
    }

    private val concernNames: List<String> by lazy { generateSequence(0) { it + 1 }.map { Native.concernName(it) }
        .takeWhile { it != null }.map { it!! }.toList() }
    private val bandNames: List<String> by lazy { generateSequence(0) { it + 1 }.map { Native.bandName(it) }
        .takeWhile { it != null }.map { it!! }.toList() }

    /** Face [i]'s SkinReport from the flat arrays of `Native.skinNumbers` / `skinStrings`. */
    private fun skinReport(h: Long, i: Int, regionNames: List<String>, acne: Classification?): SkinReport? {
        val v = Native.skinNumbers(h, i) ?: return null
        val s = Native.skinStrings(h, i) ?: return null
        val checks = v[3].toInt()
        val lights = v[4].toInt()
        var at = 5
        val list = (0 until checks).map { k ->
            val value = v[at + 3 * k + 1]
            QualityCheck(s[1 + k] ?: "", v[at + 3 * k] != 0.0, value.takeUnless { it.isNaN() }, v[at + 3 * k + 2],
                         s[1 + checks + k] ?: "")
        }
        at += 3 * checks
        val rows = ArrayList<Map<String, ConcernScore>?>()
        for (r in 0..regionNames.size) {
            val measured = v[at++] != 0.0
            val scores = LinkedHashMap<String, ConcernScore>()
            for (name in concernNames) {
                if (!v[at].isNaN()) scores[name] = ConcernScore(v[at], bandNames[v[at + 1].toInt()], v[at + 2])
                at += 3
            }
            rows.add(if (measured) scores else null)
        }
        val regions = LinkedHashMap<String, Map<String, ConcernScore>>()
        for ((k, name) in regionNames.withIndex()) rows[k + 1]?.let { regions[name] = it }
        val lighting = LinkedHashMap<String, Double>()
        for (k in 0 until lights) lighting[s[1 + 2 * checks + k] ?: ""] = v[at + k]
        val models = LinkedHashMap<String, String>()
        var m = 1 + 2 * checks + lights
        while (m + 1 < s.size) {
            models[s[m] ?: ""] = s[m + 1] ?: ""
            m += 2
        }
        val tone = if (v[2].isNaN()) null else Tone(v[2], s[0] ?: "")
        return SkinReport(v[0] != 0.0, v[1] != 0.0, list, tone, rows[0] ?: emptyMap(), regions, lighting, models, acne)
    }
}
