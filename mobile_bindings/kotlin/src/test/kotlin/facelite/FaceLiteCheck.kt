package facelite

import java.nio.ByteBuffer

/*
 * The JVM check tests/mobile_bindings/test_kotlin.py runs (not shipped):
 *
 *   java -Dfacelite.jni.library=.../libfacelite_jni.so -cp ... facelite.FaceLiteCheckKt BUNDLES_DIR PHOTO...
 *
 * For each photo: decoded by the C core (FaceLite.decode), analysed from those BGR bytes,
 * again as a padded RGBA direct buffer (an Android Bitmap's layout) and from the path;
 * the three must agree. Prints one JSON line per photo with every value exactly as the
 * data classes hold it (compared by the test with the C tool's exact output), then the
 * error checks, then "ok".
 */

private fun q(s: String) = "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\""
private fun num(v: Double?) = if (v == null || v.isNaN() || v.isInfinite()) "null" else v.toString()
private fun num(v: Float) = if (v.isNaN() || v.isInfinite()) "null" else v.toString()
private fun points(p: List<Point>) = p.joinToString(",", "[", "]") { "[${num(it.x)},${num(it.y)}]" }
private fun classification(c: Classification?) = if (c == null) "null" else
    "{\"top\":[${q(c.label)},${num(c.score)}],\"scores\":" +
        c.scores.entries.joinToString(",", "{", "}") { "${q(it.key)}:${num(it.value)}" } + "}"

private fun bool(b: Boolean) = if (b) "true" else "false"
private fun concerns(m: Map<String, ConcernScore>) = m.entries.joinToString(",", "{", "}") {
    "${q(it.key)}:{\"score\":${num(it.value.score)},\"band\":${q(it.value.band)},\"raw\":${num(it.value.raw)}}"
}

/** A SkinReport as the C core's exact JSON (`fl_result_json(FL_JSON_EXACT)`) writes it. */
private fun skin(s: SkinReport?): String {
    if (s == null) return "null"
    val checks = s.checks.joinToString(",", "[", "]") {
        "{\"code\":${q(it.code)},\"passed\":${bool(it.passed)},\"value\":${num(it.value)}," +
            "\"threshold\":${num(it.threshold)},\"message\":${q(it.message)}}"
    }
    val tone = s.tone?.let { "{\"ita_deg\":${num(it.itaDeg)},\"category\":${q(it.category)}}" } ?: "null"
    return "{\"reliable\":${bool(s.reliable)},\"restored\":${bool(s.restored)}," +
        "\"quality\":{\"reliable\":${bool(s.reliable)},\"checks\":$checks},\"tone\":$tone," +
        "\"face\":${concerns(s.face)},\"regions\":" +
        s.regions.entries.joinToString(",", "{", "}") { "${q(it.key)}:${concerns(it.value)}" } +
        ",\"lighting\":" + s.lighting.entries.joinToString(",", "{", "}") { "${q(it.key)}:${num(it.value)}" } +
        ",\"models\":" + s.models.entries.joinToString(",", "{", "}") { "${q(it.key)}:${q(it.value)}" } + "}"
}

/** A result as one JSON line, every value exactly as the data classes hold it (also VideoCheck's). */
internal fun json(path: String, r: AnalysisResult): String {
    val faces = r.faces.joinToString(",", "[", "]") { f ->
        val b = f.box
        "{\"track_id\":${f.trackId},\"box\":{\"x\":${num(b.x)},\"y\":${num(b.y)},\"w\":${num(b.w)},\"h\":${num(b.h)},\"score\":${num(b.score)}}," +
            "\"landmarks\":${points(f.landmarks)},\"landmarks_source\":${q(f.landmarksSource)}," +
            "\"regions\":" + f.regions.entries.joinToString(",", "{", "}") { "${q(it.key)}:${points(it.value)}" } + "," +
            "\"expression\":${classification(f.expression)}," +
            "\"skin\":${skin(f.skin)},\"acne\":${classification(f.skin?.acne)}}"
    }
    val stages = r.stages.entries.joinToString(",", "{", "}") { "${q(it.key)}:${q(it.value)}" }
    return "{\"path\":${q(path)},\"timestamp_ms\":${r.timestampMs},\"image_size\":[${r.imageWidth},${r.imageHeight}],\"detector\":${q(r.detector)}," +
        "\"stages\":$stages,\"faces\":$faces,\"total_ms\":${num(r.timingsMs.totalMs)}}"
}

/** BGR bytes -> RGBA rows padded to width * 4 + 16 bytes, in a direct buffer. */
internal fun toRgba(bgr: Image): Image {
    val stride = bgr.width * 4 + 16
    val out = ByteBuffer.allocateDirect(stride * bgr.height)
    val src = bgr.pixels
    for (y in 0 until bgr.height) for (x in 0 until bgr.width) {
        val s = y * bgr.rowStride + 3 * x
        val d = y * stride + 4 * x
        out.put(d, src.get(s + 2)).put(d + 1, src.get(s + 1)).put(d + 2, src.get(s)).put(d + 3, 255.toByte())
    }
    return Image(out, bgr.width, bgr.height, stride, PixelFormat.RGBA)
}

internal fun require(ok: Boolean, what: String) {
    if (!ok) throw AssertionError(what)
}

fun main(args: Array<String>) {
    val faceLite = FaceLite.createFromOptions(Options(bundlesDir = args[0], variant = "fp32",
                                                      accelerator = Accelerator.CPU, threads = 2))
    require(faceLite.stages.getValue(Stage.DETECTOR) == "bundle:face_detector", "stages: ${faceLite.stages}")
    require(faceLite.engines.getValue(Stage.LANDMARKS).variant == "fp32", "engines: ${faceLite.engines}")
    for (path in args.drop(1)) {
        val image = FaceLite.decode(path)
        val fromBgr = faceLite.analyze(image)
        val fromRgba = faceLite.analyze(toRgba(image))
        val fromPath = faceLite.analyze(path)
        require(fromBgr.faces == fromRgba.faces, "$path: RGBA pixels gave other faces")
        require(fromBgr.faces == fromPath.faces, "$path: the path gave other faces")
        require(fromPath.timingsMs.loadMs > 0.0, "$path: decoding time")
        require(fromBgr.timestampMs == null && fromBgr.faces.all { it.trackId == null } &&
                    fromBgr.timingsMs.smoothingMs == null, "$path: an image has no timestamp, track or smoothing")
        println(json(path, fromBgr))
    }
    try {
        faceLite.analyze("/nonexistent/photo.jpg")
        throw AssertionError("a missing file analysed")
    } catch (e: FaceLiteException) {
        require(e.status == "io" && e.isUserError && e.message!!.contains("/nonexistent/photo.jpg"), "error: $e")
        println("{\"error_status\":${q(e.status)}}")
    }
    try {
        faceLite.analyze(ByteBuffer.allocateDirect(10), 10, 10, 30, PixelFormat.RGB)
        throw AssertionError("a short buffer analysed")
    } catch (e: FaceLiteException) {
        require(e.status == "invalid_argument" && e.message!!.contains("buffer holds 10"), "short buffer: $e")
    }
    try {
        faceLite.analyzeVideoFrame(FaceLite.decode(args[1]), 0L)
        throw AssertionError("a video frame analysed in IMAGE mode")
    } catch (e: FaceLiteException) {
        require(e.status == "invalid_argument" && e.message!!.contains("runs in IMAGE mode") &&
                    e.message.contains("RunningMode.VIDEO"), "video frame in IMAGE mode: $e")
    }
    faceLite.close()
    faceLite.close()
    try {
        faceLite.analyze("/nonexistent/photo.jpg")
        throw AssertionError("analysed after close")
    } catch (e: IllegalStateException) {
    }
    try {
        FaceLite.createFromOptions(Options(bundlesDir = "/nonexistent/bundles"))
        throw AssertionError("created without bundles")
    } catch (e: FaceLiteException) {
        require(e.status == "io" && e.message!!.contains("no such bundles folder"), "create: $e")
    }
    println("ok")
}
