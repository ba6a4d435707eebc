package facelite

/** A face box in image pixels (x, y: top-left corner) and the detector's score. */
data class Box(val x: Double, val y: Double, val w: Double, val h: Double, val score: Double)

data class Point(val x: Float, val y: Float)

/** A classifier's answer: the best label and every label's score, in the bundle's order. */
data class Classification(val label: String, val score: Float, val scores: Map<String, Float>)

/** One concern in one region: 0–100 (higher = healthier), its band ("good", "fair",
 *  "attention") and the raw measure it is read from (docs/skin.md "Scores"). */
data class ConcernScore(val score: Double, val band: String, val raw: Double)

/** One check of the capture quality gate; [message] tells the user what to change when it
 *  fails. [value] is null when it is not finite. */
data class QualityCheck(val code: String, val passed: Boolean, val value: Double?, val threshold: Double,
                        val message: String)

/** Skin tone: ITA° of the face's skin and its category ("very_light" … "dark"), never scored. */
data class Tone(val itaDeg: Double, val category: String)

/**
 * A face's skin report, the Python runtime's `SkinReport`: the capture quality verdict
 * ([reliable] false: do not mix these scores with reliable ones), the tone, a [ConcernScore]
 * per concern ("acne", "redness", "pigmentation", "evenness", "texture", "shine") for the
 * whole face's skin and per measured region, the lighting normalisation applied, and the
 * bundles (name to version) that produced it. [acne] is the acne model's combined label
 * probabilities (null without an acne bundle for face crops).
 */
data class SkinReport(
    val reliable: Boolean,
    val restored: Boolean,
    val checks: List<QualityCheck>,
    val tone: Tone?,
    val face: Map<String, ConcernScore>,
    val regions: Map<String, Map<String, ConcernScore>>,
    val lighting: Map<String, Double>,
    val models: Map<String, String>,
    val acne: Classification?
)

/** One face: box, 68 landmarks (iBUG order), the seven region polygons by name, labels;
 *  in VIDEO mode the id of its track. */
data class Face(
    val box: Box,
    val landmarks: List<Point>,
    val regions: Map<String, List<Point>>,
    val expression: Classification?,
    /** Null when the skin analysis is off or has no skin_metrics bundle. */
    val skin: SkinReport?,
    val landmarksSource: String,
    /** VIDEO: the same id on every frame the face is followed (from 0 per clip; a face that
     *  is lost and found again gets a new one); null in IMAGE mode. */
    val trackId: Int? = null
)

/** Milliseconds per stage, as the Python runtime's `timings_ms`. */
data class Timings(
    val loadMs: Double,
    val detectMs: Double,
    val landmarksMs: Double,
    val alignRegionsMs: Double,
    val expressionMs: Double,
    /** Every skin stage together (skin crop, measures, quality, restoration, acne). */
    val skinMs: Double,
    val totalMs: Double,
    /** VIDEO: smoothing the points; null for an image. */
    val smoothingMs: Double? = null
)

/** Every face of one image (best first; in VIDEO mode in ascending track id), what ran at
 *  each stage, and the timings (in VIDEO mode, only the stages that ran on this frame). */
data class AnalysisResult(
    val imageWidth: Int,
    val imageHeight: Int,
    val detector: String,
    val stages: Map<String, String>,
    val faces: List<Face>,
    val timingsMs: Timings,
    /** VIDEO: the frame's timestamp as given to [FaceLite.analyzeVideoFrame]; null for an image. */
    val timestampMs: Long? = null
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
