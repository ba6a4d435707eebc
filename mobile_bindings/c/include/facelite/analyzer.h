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
 *  5. skin (`facelite.skin.SkinAnalyzer`; optional `skin_metrics` bundle), per face on its
 *     own eye-aligned skin crop: the raw measures of the `skin_metrics` bundle (lighting
 *     normalisation, per-region colour, spots, texture, shine, capture measures, ITA°),
 *     the capture quality gate, restoration of a noisy crop (when
 *     asked, `restore`; `restoration` bundle), acne on the crop and its patches (`acne`
 *     bundle trained on face crops) and the 0-100 scores: `fl_skin_report`, the numbers
 *     of `SkinReport` (tests/mobile_bindings/test_pipeline_parity.py).
 *
 * Running modes (docs/video.md, as `FaceAnalyzerOptions.running_mode`): FL_RUNNING_MODE_IMAGE
 * (the default) analyses every image on its own with `fl_analyze`; FL_RUNNING_MODE_VIDEO takes
 * the frames of one clip in order with `fl_analyze_video_frame` and strictly increasing
 * timestamps: faces are tracked (tracking.c: the detector runs when there is no track,
 * every `detect_every_n_frames` frames or when a track is lost; `fl_result_track_id` stays
 * with its face), their points smoothed (one_euro.c, the One Euro filter) and expression
 * and skin run at their own rates (`expression_every_n_frames`, `skin_every_n_frames`;
 * between runs a face carries its last result). Step for step as `facelite`'s VIDEO mode
 * (tests/mobile_bindings/test_video_parity.py). There is no LIVE_STREAM mode in C: a phone
 * app runs VIDEO mode on its camera thread and drops the frames it has no time for.
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
    FL_STAGE_SKIN_METRICS = 3, /**< optional: a `skin_metrics` bundle ("skin_metrics"); without it no skin */
    FL_STAGE_ACNE = 4,       /**< optional: a `classification` bundle trained on face crops ("acne") */
    FL_STAGE_RESTORATION = 5 /**< with `restore` only: an `image_to_image` bundle ("restoration") */
} fl_stage;

#define FL_STAGE_COUNT 6

/** The bundle name a stage looks for in a bundles folder: "face_detector", "landmarks",
 *  "expression", "skin_metrics", "acne", "restoration" (NULL outside the enum); also the
 *  stage's key in `AnalysisResult.stages`, but "detector" for the detector. */
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

/** How an analyzer is fed (`facelite.RunningMode`; LIVE_STREAM is the app's own thread). */
typedef enum fl_running_mode {
    FL_RUNNING_MODE_IMAGE = 0, /**< `fl_analyze`, `fl_analyze_file`: every image on its own */
    FL_RUNNING_MODE_VIDEO = 1  /**< `fl_analyze_video_frame(_file)`: the frames of one clip, tracked */
} fl_running_mode;

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
     *  accelerator), "fp32", "fp16", "dynamic" or "int8". The skin_metrics bundle (image
     *  arithmetic, shipped in fp32 only) runs its own choice when it lacks this variant. */
    const char *variant;
    /** Where every model runs; each falls back to the CPU on its own (default AUTO). */
    fl_accelerator accelerator;
    /** CPU threads per model (default 2, as `facelite.BaseOptions.num_threads`). */
    int threads;
    /** Detections below this score are dropped; negative (the default): the detector
     *  bundle's threshold for the variant it runs (`output.score_threshold_by_variant`),
     *  else its `output.score_threshold`, else 0.5. */
    double min_face_score;
    /** At most this many faces, best first (default FL_DEFAULT_MAX_FACES). */
    int max_faces;
    /** Run the skin analysis (default 1; needs a `skin_metrics` bundle, else skipped). */
    int skin;
    /** Let the skin analysis restore a face crop that fails `noisy` and nothing else but
     *  `low_resolution` (default 0; needs a `restoration` bundle). */
    int restore;
    /** FL_RUNNING_MODE_IMAGE (default) or FL_RUNNING_MODE_VIDEO. */
    fl_running_mode running_mode;
    /** VIDEO: the detector runs at least every this many frames to find new faces (and
     *  whenever a track is lost); default 15, at least 1. */
    int detect_every_n_frames;
    /** VIDEO: a tracked face's expression runs on its frames 0, n, 2n, ...; in between it
     *  carries the last (smoothed) result. Default 1, at least 1. */
    int expression_every_n_frames;
    /** VIDEO: the same for the skin analysis (reports are not smoothed). Default 10. */
    int skin_every_n_frames;
    /** VIDEO: One Euro smoothing of points and expression probabilities (default 1); 0
     *  reports the raw values. */
    int smoothing;
} fl_analyzer_options;

/** Defaults: no bundles, variant auto, accelerator AUTO, 2 threads, the manifest's score
 *  threshold, FL_DEFAULT_MAX_FACES faces, skin on, restoration off, IMAGE mode (VIDEO
 *  settings: detection every 15 frames, expression every frame, skin every 10, smoothing
 *  on, as `FaceAnalyzerOptions`). */
FL_API void fl_analyzer_options_init(fl_analyzer_options *options);

typedef struct fl_analyzer fl_analyzer;
typedef struct fl_result fl_result;

/**
 * Open the stages' bundles and load their models.
 *
 * The detector and landmarks bundles are required (FL_ERR_IO naming the paths looked
 * at when absent: the C core has no stand-ins), and so is a restoration bundle when
 * `restore` is on; the expression, skin_metrics and acne stages are skipped, and said so
 * by `fl_analyzer_stage`, when their bundle is absent (every skin stage without a
 * skin_metrics bundle; acne also with an acne bundle that grades whole photos, v1).
 * Each bundle must be of its stage's task and its model of the shape the task decodes
 * (FL_ERR_BUNDLE_INVALID otherwise).
 */
FL_API fl_status fl_analyzer_create(const fl_analyzer_options *options, fl_analyzer **out, fl_error *err);
FL_API void fl_analyzer_destroy(fl_analyzer *analyzer);

/** What runs at `stage`: "bundle:<manifest name>", "skipped (no bundle)", "skipped (acne
 *  bundle grades whole photos; needs one trained on face crops)", or "off" (the skin
 *  stages with `skin` 0, restoration with `restore` 0), as `FaceAnalyzer.stages`. */
FL_API const char *fl_analyzer_stage(const fl_analyzer *analyzer, fl_stage stage);
/** The model running at `stage` (variant, accelerator, fallback reason via
 *  `fl_model_get_info`), or NULL for a skipped stage and for restoration (whose model
 *  runs tile by tile inside the restorer: see `fl_analyzer_model_info`). */
FL_API const fl_model *fl_analyzer_model(const fl_analyzer *analyzer, fl_stage stage);
/** What runs at `stage` (`analyzer.info[stage]`: variant, accelerator, fallback reason,
 *  threads, init time), every stage with a model included; NULL for a skipped stage. */
FL_API const fl_model_info *fl_analyzer_model_info(const fl_analyzer *analyzer, fl_stage stage);

/** Analyse caller-owned pixels (any `fl_pixel_format`, with stride; alpha ignored).
 *  `*out` belongs to the analyzer, valid until its next analyze call. IMAGE mode only
 *  (FL_ERR_INVALID_ARGUMENT in VIDEO mode). */
FL_API fl_status fl_analyze(fl_analyzer *analyzer, const fl_image *image, const fl_result **out, fl_error *err);

/** Decode the JPEG/PNG file at `path` (`fl_image_load`, into a buffer the analyzer keeps)
 *  and analyse it; the decoding time is the result's `load_ms`. IMAGE mode only. */
FL_API fl_status fl_analyze_file(fl_analyzer *analyzer, const char *path, const fl_result **out, fl_error *err);

/** VIDEO mode: the next frame of the clip (pixels as for `fl_analyze`) at `timestamp_ms`,
 *  which must be greater than the previous frame's (FL_ERR_INVALID_ARGUMENT naming both
 *  otherwise; the frame is then not analysed and the clip goes on). Faces are tracked and
 *  smoothed (docs/video.md); `*out` as for `fl_analyze`. FL_ERR_INVALID_ARGUMENT in IMAGE
 *  mode. */
FL_API fl_status fl_analyze_video_frame(fl_analyzer *analyzer, const fl_image *image, int64_t timestamp_ms,
                                        const fl_result **out, fl_error *err);

/** `fl_analyze_video_frame` on a decoded JPEG/PNG file (the decoding time is `load_ms`). */
FL_API fl_status fl_analyze_video_frame_file(fl_analyzer *analyzer, const char *path, int64_t timestamp_ms,
                                             const fl_result **out, fl_error *err);

/** Start a new clip: no tracks (track ids from 0 again), any timestamp accepted next. The
 *  last result is no longer valid. Harmless in IMAGE mode. */
FL_API void fl_analyzer_reset(fl_analyzer *analyzer);

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

/** Scored skin concerns, in report order (`facelite.skin_scores.CONCERNS`). */
typedef enum fl_concern {
    FL_CONCERN_ACNE = 0,
    FL_CONCERN_REDNESS = 1,
    FL_CONCERN_PIGMENTATION = 2,
    FL_CONCERN_EVENNESS = 3,
    FL_CONCERN_TEXTURE = 4,
    FL_CONCERN_SHINE = 5
} fl_concern;

#define FL_CONCERN_COUNT 6

/** "acne", "redness", "pigmentation", "evenness", "texture", "shine" (NULL past the end). */
FL_API const char *fl_concern_name(fl_concern concern);

/** A score's band, judged on the score rounded to a whole number: good (>= 70), fair
 *  (40 to 69), attention (< 40). */
typedef enum fl_band { FL_BAND_GOOD = 0, FL_BAND_FAIR = 1, FL_BAND_ATTENTION = 2 } fl_band;

/** "good", "fair", "attention" (NULL past the end). */
FL_API const char *fl_band_name(fl_band band);

/** One concern in one region (`skin_scores.ConcernScore`); the formulas and anchors are
 *  docs/skin.md "Scores". */
typedef struct fl_concern_score {
    int measured; /**< 0: not measured here (no pixels, no acne grade): score and raw NaN */
    double score; /**< 0-100, higher = healthier; unrounded (the JSON rounds it) */
    fl_band band;
    double raw;   /**< the raw measure the score is read from (acne: the expected grade 0-2) */
} fl_concern_score;

/** One check of the capture quality gate (`quality.QualityCheck`). */
typedef struct fl_skin_check {
    const char *code;    /**< "face_too_small", "blur", ... (docs/skin.md, `facelite.quality`) */
    int passed;
    double value;        /**< the measured value; NaN when not finite (the check fails) */
    double threshold;
    const char *message; /**< the sentence for the user when it fails ("Hold still ...") */
} fl_skin_check;

/** Checks of the quality gate at most. */
#define FL_SKIN_CHECK_MAX 12
/** `lighting` values at most, and models at most. */
#define FL_SKIN_LIGHTING_MAX 8
#define FL_SKIN_MODEL_MAX 3

/**
 * One face's skin (`facelite.skin.SkinReport`): the quality verdict, the tone, a score per
 * concern for the whole face's skin and for each region, and what produced them. The
 * strings are static or owned by the analyzer.
 */
typedef struct fl_skin_report {
    /** The capture passed every check (after restoration, when it ran); scores of an
     *  unreliable capture are given but must not be mixed with reliable ones. */
    int reliable;
    int restored;  /**< the crop went through the restoration bundle before measuring */
    size_t check_count;
    fl_skin_check checks[FL_SKIN_CHECK_MAX]; /**< the checks that ran, in report order */
    int has_tone;  /**< 0 when no face skin was measured */
    double ita_deg; /**< ITA° of the face's skin (reported, never scored) */
    const char *tone; /**< "very_light", "light", "intermediate", "tan", "brown", "dark" */
    fl_concern_score face[FL_CONCERN_COUNT]; /**< over the whole face's skin, by fl_concern */
    /** 0 for a region that was not measured (outside the photo): it has no scores. */
    int region_measured[FL_REGION_COUNT];
    fl_concern_score regions[FL_REGION_COUNT][FL_CONCERN_COUNT]; /**< fl_region_name order */
    /** What the lighting normalisation did: `lighting_count` (name, value) pairs
     *  ("gain_r", ... docs/skin.md). */
    size_t lighting_count;
    const char *lighting_names[FL_SKIN_LIGHTING_MAX];
    double lighting[FL_SKIN_LIGHTING_MAX];
    /** The bundles that produced the report: (manifest name, version) pairs. */
    size_t model_count;
    const char *model_names[FL_SKIN_MODEL_MAX];
    const char *model_versions[FL_SKIN_MODEL_MAX];
} fl_skin_report;

/** Milliseconds per stage, as `AnalysisResult.timings_ms`; `total_ms` is their sum. The
 *  skin stages' entries are NaN when the stage did not run on the image (no face, stage
 *  skipped, no crop restored): `timings_ms` then has no such key. */
typedef struct fl_timings {
    double load_ms; /**< decoding (`fl_analyze_file`), or checking the caller's pixels */
    double detect_ms;
    double landmarks_ms;
    double smoothing_ms;     /**< VIDEO: smoothing the points; NaN (no `smoothing` key) for an image */
    double align_regions_ms;
    double expression_ms;
    double skin_crop_ms;     /**< the faces' skin crops */
    double skin_measures_ms; /**< the skin_metrics bundle */
    double quality_ms;       /**< the quality gate */
    double restoration_ms;   /**< restoring crops and measuring them again */
    double acne_ms;          /**< the acne bundle on the crops and patches */
    double skin_ms;          /**< the skin stages together (0 when none ran) */
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
/** VIDEO: the id of face `face`'s track, the same on every frame it is followed (from 0
 *  per clip); -1 in IMAGE mode and past the end. Faces come in ascending track id. */
FL_API int64_t fl_result_track_id(const fl_result *result, size_t face);
/** VIDEO: 1 and the frame's timestamp in `*timestamp_ms` (may be NULL); 0 for an image. */
FL_API int fl_result_timestamp_ms(const fl_result *result, int64_t *timestamp_ms);
/** How many times the detector ran for this result (`FaceTracker.detections_run`'s
 *  increase): 1 for an image; in VIDEO mode 1 on a frame where it ran (no track, the
 *  schedule, or a track lost on the frame; a track lost after the frame's detection
 *  frees that detection instead of running it again), else 0. */
FL_API int fl_result_detections(const fl_result *result);

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
/** The acne grade (`AcneGrade`): each label's probability combined over the face crop and
 *  its patches, `label` the grade by the bundle's `output.grade_decision` (absent: the most
 *  probable; "median": the first whose cumulative probability reaches 0.5), `score` its
 *  probability; NULL when the acne stage did not run. */
FL_API const fl_classification *fl_result_acne(const fl_result *result, size_t face);
/** The face's skin report, or NULL when the skin analysis is skipped or off. */
FL_API const fl_skin_report *fl_result_skin(const fl_result *result, size_t face);

/** How `fl_result_json` writes numbers. */
typedef enum fl_json_style {
    /** As `facelite analyze --json` rounds them (box 2 decimals, score 4, landmarks 2
     *  and regions 1 in float32, labels' scores 4, timings 2; skin: scores to whole
     *  numbers, raw measures and lighting to 4 significant digits, ITA° 1 decimal). */
    FL_JSON_ROUNDED = 0,
    /** Every value unrounded, with 17 significant digits (it reads back bit for bit),
     *  for parity checks. */
    FL_JSON_EXACT = 1
} fl_json_style;

/**
 * The result as the JSON document `AnalysisResult.to_json` gives: `timestamp_ms` (VIDEO
 * only), `image_size`, `detector`, `stages`, `faces` (`track_id`: VIDEO only, `box`,
 * `landmarks`, `landmarks_source`, `regions`,
 * `expression`, `skin`: `SkinReport.to_json`) and `timings_ms`; a non-finite number is
 * written null, as Python does.
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
