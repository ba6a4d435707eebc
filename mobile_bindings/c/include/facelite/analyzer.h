/*
 * analyzer.h: the face pipeline in C, `facelite.FaceAnalyzer`'s twin.
 *
 * Why in the C core: a phone app must get, from the same bundles and the same pixels,
 * the boxes, 68 landmarks, region polygons and labels the Python reference runtime gives,
 * without re-implementing detection decoding, the landmark crop, eye alignment and the
 * regions by hand. Each stage here is the Python code's arithmetic written out in the
 * same order and precision (float32 where numpy computes in float32, double where it
 * computes in float64); tests/mobile_bindings/test_pipeline_parity.py holds the two
 * side by side on real photos.
 *
 * The stages (`facelite.analyzer.FaceAnalyzer.analyze`):
 *  1. detect: the whole image letterboxed into the detector bundle's input, its heatmap
 *     decoded by the manifest's `output` block (channel roles, 3x3 local maxima, the
 *     score threshold, greedy IoU non-maximum suppression, at most `max_faces`), boxes
 *     mapped back to the image, clipped, slivers dropped, and boxes more than
 *     FL_MAX_FACE_BOX_ASPECT times longer than wide dropped;
 *  2. landmarks: each box less the detector's `box_margin` (the landmarks' extent box),
 *     the landmarks bundle's square face crop, 68 points mapped back to the image;
 *  3. align and regions: a similarity transform putting the eye centres at fixed places
 *     of an FL_ALIGNED_SIZE square crop (`facelite.align`), and the seven skin-region
 *     polygons (`facelite.regions`);
 *  4. expression (optional bundle): the aligned crop through the expression bundle;
 *  5. skin: the acne grade's label, scores and expected grade (`acne_severity`; optional
 *     acne bundle), and the colour measure `redness`, the mean CIELAB a* over each region
 *     and over the skin regions together, by docs/skin.md ("redness v1"), the Python
 *     reference's bits.
 *
 * Memory: every buffer (tensors, crops, the result) belongs to the analyzer and is
 * reused: once it has seen an image of a given size with as many faces, `fl_analyze`
 * allocates nothing but what LiteRT does (`fl_analyze_file` reuses its decoded pixels,
 * but reads each file into a temporary buffer, and the decoders allocate their state).
 * The result returned stays valid until the next `fl_analyze*` call on that analyzer or
 * its destruction. An analyzer is used by one thread at a time.
 *
 * Example (error handling shortened):
 *
 *     fl_analyzer_options opts;
 *     fl_analyzer *analyzer;
 *     const fl_result *result;
 *     fl_error err;
 *     fl_analyzer_options_init(&opts);
 *     opts.bundles_dir = "models";                 // models/<name>/<name>.flb
 *     opts.accelerator = FL_ACCELERATOR_CPU;
 *     if (fl_analyzer_create(&opts, &analyzer, &err) != FL_OK) {
 *         fprintf(stderr, "error: %s\n", err.message);
 *         return 2;
 *     }
 *     fl_image image = {bitmap_pixels, width, height, row_bytes, FL_PIXELS_RGBA};
 *     fl_analyze(analyzer, &image, &result, &err);
 *     for (size_t i = 0; i < fl_result_face_count(result); i++) {
 *         const fl_box *box = fl_result_box(result, i);
 *         const fl_classification *e = fl_result_expression(result, i);  // NULL: no bundle
 *         printf("%.0f,%.0f %s %.2f\n", box->x, box->y, e ? e->label : "-", e ? e->score : 0.0f);
 *     }
 *     fl_analyzer_destroy(analyzer);
 */
#ifndef FACELITE_ANALYZER_H
#define FACELITE_ANALYZER_H

#include "facelite/facelite.h"
#include "facelite/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The pipeline's bundles, by stage. */
typedef enum fl_stage {
    FL_STAGE_DETECTOR = 0,   /**< required: a `detection` bundle ("face_detector") */
    FL_STAGE_LANDMARKS = 1,  /**< required: a `landmarks` bundle ("landmarks") */
    FL_STAGE_EXPRESSION = 2, /**< optional: a `classification` bundle ("expression") */
    FL_STAGE_ACNE = 3        /**< optional: a `classification` bundle ("acne") */
} fl_stage;

#define FL_STAGE_COUNT 4

/** The bundle name a stage looks for in a bundles folder: "face_detector", "landmarks",
 *  "expression", "acne" (NULL outside the enum). */
FL_API const char *fl_stage_bundle_name(fl_stage stage);

/** Faces analysed at most per image unless the options say otherwise. */
#define FL_DEFAULT_MAX_FACES 10
/** Side of the aligned face crop the expression bundle gets (`analyzer.ALIGNED_SIZE`). */
#define FL_ALIGNED_SIZE 112
/** Longer over shorter box side above which a detection is not analysed as a face. */
#define FL_MAX_FACE_BOX_ASPECT 4.0
/** Landmarks per face (iBUG 300W order); `fl_result_landmarks` gives 2x this many floats. */
#define FL_LANDMARK_COUNT 68
/** Skin regions per face (`fl_region_name`). */
#define FL_REGION_COUNT 7

/** How to build an analyzer. Start from `fl_analyzer_options_init`. */
typedef struct fl_analyzer_options {
    /** A folder of `<name>/<name>.flb` bundles (names from `fl_stage_bundle_name`), used
     *  for every stage not given below; NULL: only the stages given below. */
    const char *bundles_dir;
    /** A bundle file per stage (NULL: from `bundles_dir`, or none). */
    const char *bundle_paths[FL_STAGE_COUNT];
    /** An opened bundle per stage (NULL: from the path or folder); the analyzer takes
     *  its own reference, so the caller may destroy its handle at once. */
    fl_bundle *bundles[FL_STAGE_COUNT];
    /** Signature policy for the bundles opened here (NULL: `fl_bundle_options_init`'s). */
    const fl_bundle_options *bundle_options;
    /** Variant for every bundle: NULL or "auto" (each bundle's choice for the
     *  accelerator), "fp32", "fp16", "dynamic" or "int8". */
    const char *variant;
    /** Where every model runs; each falls back to the CPU on its own (default AUTO). */
    fl_accelerator accelerator;
    /** CPU threads per model (default 2, as `facelite.BaseOptions.num_threads`). */
    int threads;
    /** Detections below this score are dropped; negative (the default): the detector
     *  bundle's `output.score_threshold`, else 0.5. */
    double min_face_score;
    /** At most this many faces, best first (default FL_DEFAULT_MAX_FACES). */
    int max_faces;
} fl_analyzer_options;

/** Defaults: no bundles, variant auto, accelerator AUTO, 2 threads, the manifest's score
 *  threshold, FL_DEFAULT_MAX_FACES faces. */
FL_API void fl_analyzer_options_init(fl_analyzer_options *options);

typedef struct fl_analyzer fl_analyzer;
typedef struct fl_result fl_result;

/**
 * Open the stages' bundles and load their models.
 *
 * The detector and landmarks bundles are required (FL_ERR_IO naming the paths looked
 * at when absent: the C core has no stand-ins); the expression and acne stages are
 * skipped, and said so by `fl_analyzer_stage`, when their bundle is absent. Each bundle
 * must be of its stage's task and its model of the shape the task decodes
 * (FL_ERR_BUNDLE_INVALID otherwise).
 */
FL_API fl_status fl_analyzer_create(const fl_analyzer_options *options, fl_analyzer **out, fl_error *err);
FL_API void fl_analyzer_destroy(fl_analyzer *analyzer);

/** What runs at `stage`: "bundle:<manifest name>", or "skipped (no bundle)". */
FL_API const char *fl_analyzer_stage(const fl_analyzer *analyzer, fl_stage stage);
/** The model running at `stage` (variant, accelerator, fallback reason via
 *  `fl_model_get_info`), or NULL for a skipped stage. */
FL_API const fl_model *fl_analyzer_model(const fl_analyzer *analyzer, fl_stage stage);

/** Analyse caller-owned pixels (any `fl_pixel_format`, with stride; alpha ignored).
 *  `*out` belongs to the analyzer, valid until its next analyze call. */
FL_API fl_status fl_analyze(fl_analyzer *analyzer, const fl_image *image, const fl_result **out, fl_error *err);

/** Decode the JPEG/PNG file at `path` (`fl_image_load`, into a buffer the analyzer keeps)
 *  and analyse it; the decoding time is the result's `load_ms`. */
FL_API fl_status fl_analyze_file(fl_analyzer *analyzer, const char *path, const fl_result **out, fl_error *err);

/* ----------------------------------------------------------------------------------
 * Results
 * -------------------------------------------------------------------------------- */

/** A face box in image pixels (x, y: top-left corner) and the detector's score. */
typedef struct fl_box {
    double x;
    double y;
    double w;
    double h;
    double score;
} fl_box;

/** A classifier's answer: the best label and every label's score, in manifest order. */
typedef struct fl_classification {
    const char *label; /**< the first label with the highest score */
    float score;
    size_t count;               /**< labels */
    const char *const *labels;  /**< count names, owned by the analyzer */
    const float *scores;        /**< count probabilities */
} fl_classification;

/** Skin measures of one face (`facelite.skin.SkinResult`), docs/skin.md. */
typedef struct fl_skin {
    int has_redness;       /**< 1: redness is measured on every face */
    double redness;        /**< mean a* over the skin regions' union; NaN when they hold no pixel */
    /** Each region's mean a*, in `fl_region_name` order (`SkinResult.region_redness`);
     *  NaN for a region without pixels. */
    double region_redness[FL_REGION_COUNT];
    int has_acne_severity; /**< 1 when the acne stage ran */
    double acne_severity;  /**< expected grade: sum of i * p_i over the acne labels in order */
} fl_skin;

/** Milliseconds per stage, as `AnalysisResult.timings_ms`; `total_ms` is their sum. */
typedef struct fl_timings {
    double load_ms; /**< decoding (`fl_analyze_file`), or checking the caller's pixels */
    double detect_ms;
    double landmarks_ms;
    double align_regions_ms;
    double expression_ms;
    double skin_ms;
    double total_ms;
} fl_timings;

FL_API int fl_result_image_width(const fl_result *result);
FL_API int fl_result_image_height(const fl_result *result);
/** The detector that ran: "bundle:<name>". */
FL_API const char *fl_result_detector(const fl_result *result);
/** What ran at `stage` (`fl_analyzer_stage`), as `AnalysisResult.stages`. */
FL_API const char *fl_result_stage(const fl_result *result, fl_stage stage);
FL_API const fl_timings *fl_result_timings(const fl_result *result);

FL_API size_t fl_result_face_count(const fl_result *result);
/** Face `face`'s box, best first; NULL past the end (so for every per-face accessor). */
FL_API const fl_box *fl_result_box(const fl_result *result, size_t face);
/** FL_LANDMARK_COUNT (x, y) pairs in image pixels: x0, y0, x1, y1, ... */
FL_API const float *fl_result_landmarks(const fl_result *result, size_t face);
/** Where the points came from: "bundle:<name>". */
FL_API const char *fl_result_landmarks_source(const fl_result *result, size_t face);

/** Region `index`'s name, in `facelite.regions.REGION_NAMES` order: "forehead", "nose",
 *  "left_cheek", "right_cheek", "left_under_eye", "right_under_eye", "chin" (subject's
 *  left and right); NULL past FL_REGION_COUNT. */
FL_API const char *fl_region_name(size_t index);
/** Region `index` of face `face`: `*point_count` (x, y) pairs in image pixels, in order
 *  around the polygon, clipped to the image. */
FL_API const float *fl_result_region_at(const fl_result *result, size_t face, size_t index, size_t *point_count);
/** The region called `name` (see `fl_region_name`); NULL for an unknown name. */
FL_API const float *fl_result_region(const fl_result *result, size_t face, const char *name, size_t *point_count);

/** The expression, or NULL when the stage is skipped. */
FL_API const fl_classification *fl_result_expression(const fl_result *result, size_t face);
/** The acne grade, or NULL when the stage is skipped. */
FL_API const fl_classification *fl_result_acne(const fl_result *result, size_t face);
FL_API const fl_skin *fl_result_skin(const fl_result *result, size_t face);

/** How `fl_result_json` writes numbers. */
typedef enum fl_json_style {
    /** As `facelite analyze --json` rounds them (box 2 decimals, score 4, landmarks 2
     *  and regions 1 in float32, labels' scores 4, redness 4 and per region 3, timings 2). */
    FL_JSON_ROUNDED = 0,
    /** Every value unrounded, with 17 significant digits (it reads back bit for bit),
     *  for parity checks. */
    FL_JSON_EXACT = 1
} fl_json_style;

/**
 * The result as the JSON document `AnalysisResult.to_json` gives: `image_size`,
 * `detector`, `stages`, `faces` (`box`, `landmarks`, `landmarks_source`, `regions`,
 * `expression`, `skin`) and `timings_ms`; NaN redness is written null, as Python does.
 * Writes at most `capacity` bytes, NUL included, into `buffer` (which may be NULL when
 * `capacity` is 0) and returns the document's length without the NUL, like snprintf:
 * call with a larger buffer when the return value is `capacity` or more. Returns 0 when
 * `result` is NULL or memory ran out.
 */
FL_API size_t fl_result_json(const fl_result *result, fl_json_style style, char *buffer, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif /* FACELITE_ANALYZER_H */
