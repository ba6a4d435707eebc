package facelite

/*
 * The VIDEO-mode JVM check tests/mobile_bindings/test_kotlin.py runs (not shipped):
 *
 *   java ... facelite.VideoCheckKt BUNDLES_DIR DETECT_EVERY EXPRESSION_EVERY SKIN_EVERY MS,MS,... FRAME...
 *
 * One clip twice through one VIDEO-mode FaceLite: first each frame decoded by the C core and
 * fed as BGR pixels (`analyzeVideoFrame(image, ms)`), printed as a JSON line per frame (with
 * "detected": the detector ran on the frame, its time is above 0); then, after `reset()`,
 * the same frames by path and as padded RGBA buffers in turn, which must give the same
 * faces and track ids (reset starts the ids and the timestamps again). In between, the
 * errors of VIDEO mode: a timestamp that does not increase, and `analyze` on a VIDEO
 * instance. Ends with "ok".
 */

fun main(args: Array<String>) {
    val options = Options(bundlesDir = args[0], accelerator = Accelerator.CPU, threads = 2,
                          runningMode = RunningMode.VIDEO, detectEveryNFrames = args[1].toInt(),
                          expressionEveryNFrames = args[2].toInt(), skinEveryNFrames = args[3].toInt())
    val stamps = args[4].split(",").map { it.toLong() }
    val frames = args.drop(5)
    require(stamps.size == frames.size, "${stamps.size} timestamps for ${frames.size} frames")
    val faceLite = FaceLite.createFromOptions(options)
    try {
        val first = frames.zip(stamps).map { (path, ms) ->
            val result = faceLite.analyzeVideoFrame(FaceLite.decode(path), ms)
            require(result.timestampMs == ms, "$path: timestamp ${result.timestampMs}, given $ms")
            require(result.faces.all { it.trackId != null } && result.timingsMs.smoothingMs != null,
                    "$path: a video frame's faces have track ids and smoothing timings")
            val line = json(path, result)
            println(line.dropLast(1) + ",\"detected\":${result.timingsMs.detectMs > 0.0}}")
            result
        }

        try {
            faceLite.analyzeVideoFrame(frames.last(), stamps.last())
            throw AssertionError("a repeated timestamp analysed")
        } catch (e: FaceLiteException) {
            val ms = stamps.last()
            require(e.status == "invalid_argument" &&
                        e.message!!.contains("timestamp_ms $ms: must be greater than the previous frame's $ms"),
                    "repeated timestamp: $e")
        }
        try {
            faceLite.analyze(frames.first())
            throw AssertionError("a photo analysed in VIDEO mode")
        } catch (e: FaceLiteException) {
            require(e.status == "invalid_argument" && e.message!!.contains("runs in VIDEO mode") &&
                        e.message.contains("analyzeVideoFrame(frame, timestampMs)"), "analyze in VIDEO mode: $e")
        }

        faceLite.reset()
        for ((k, pair) in frames.zip(stamps).withIndex()) {
            val (path, ms) = pair
            val again = if (k % 2 == 0) faceLite.analyzeVideoFrame(path, ms)
                        else faceLite.analyzeVideoFrame(toRgba(FaceLite.decode(path)), ms)
            require(again.faces == first[k].faces && again.timestampMs == ms,
                    "$path: after reset(), frame $k gave other faces or ids: " +
                        "${again.faces.map { it.trackId }} vs ${first[k].faces.map { it.trackId }}")
        }
    } finally {
        faceLite.close()  // `use { }` on an AutoCloseable needs kotlin-stdlib-jdk7, which Debian's kotlinc lacks
    }
    println("ok")
}
