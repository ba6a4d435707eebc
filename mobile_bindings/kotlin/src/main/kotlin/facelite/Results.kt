package facelite

/** A face box in image pixels (x, y: top-left corner) and the detector's score. */
data class Box(val x: Double, val y: Double, val w: Double, val h: Double, val score: Double)

data class Point(val x: Float, val y: Float)

/** A classifier's answer: the best label and every label's score, in the bundle's order. */
data class Classification(val label: String, val score: Float, val scores: Map<String, Float>)

/**
 * Skin measures. [redness] is the mean CIELAB a* over the skin regions ("redness v1",
 * docs/skin.md: the Python runtime's value), null when they hold no pixel. [acneSeverity]
 * is the acne classifier's expected grade (0 = its first label), null without an acne bundle.
 */
data class Skin(val redness: Double?, val acneSeverity: Double?, val acne: Classification?)

/** One face: box, 68 landmarks (iBUG order), the seven region polygons by name, labels. */
data class Face(
    val box: Box,
    val landmarks: List<Point>,
    val regions: Map<String, List<Point>>,
    val expression: Classification?,
    val skin: Skin,
    val landmarksSource: String
)

/** Milliseconds per stage, as the Python runtime's `timings_ms`. */
data class Timings(
    val loadMs: Double,
    val detectMs: Double,
    val landmarksMs: Double,
    val alignRegionsMs: Double,
    val expressionMs: Double,
    val skinMs: Double,
    val totalMs: Double
)

/** Every face of one image (best first), what ran at each stage, and the timings. */
data class AnalysisResult(
    val imageWidth: Int,
    val imageHeight: Int,
    val detector: String,
    val stages: Map<String, String>,
    val faces: List<Face>,
    val timingsMs: Timings
)

/** A failure of the C core: its status name ("io", "bundle_invalid", ...) and message. */
class FaceLiteException(val status: String, message: String) : RuntimeException(message) {
    /** True when the caller's input is at fault (a missing file, a bad bundle or image). */
    val isUserError: Boolean
        get() = status in USER_ERRORS

    private companion object {
        val USER_ERRORS = setOf("invalid_argument", "io", "bundle_invalid", "checksum", "signature", "unsupported",
                                "image_invalid")
    }
}
