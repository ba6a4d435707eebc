/* analyzer.c: the face pipeline, `facelite.analyzer.FaceAnalyzer` in C (facelite/analyzer.h).
 *
 * This file wires the stages together, in the Python code's order, and owns every buffer
 * they use; each stage's arithmetic has its own file: detection.c (boxes), landmarks.c,
 * alignment.c, regions.c, classification.c (expression scores), skin.c (the per-face skin
 * analysis: skin_measures.c, quality.c, restoration.c, acne.c, skin_scores.c). VIDEO mode
 * (`FaceAnalyzer.analyze_video_frame`) runs the same stages on the faces tracking.c
 * follows, their points smoothed by one_euro.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alignment.h"
#include "bundle.h"
#include "classification.h"
#include "clock.h"
#include "detection.h"
#include "facelite/analyzer.h"
#include "landmarks.h"
#include "regions.h"
#include "skin.h"
#include "status.h"
#include "tracking.h"

#define SKIPPED "skipped (no bundle)"
#define SKIPPED_V1_ACNE "skipped (acne bundle grades whole photos; needs one trained on face crops)"
#define OFF "off"
#define MAX_FACES_LIMIT 1024

static const char *const STAGE_BUNDLES[FL_STAGE_COUNT] = {"face_detector", "landmarks", "expression",
                                                          "skin_metrics",  "acne",      "restoration"};
static const fl_task STAGE_TASKS[FL_STAGE_COUNT] = {FL_TASK_DETECTION,    FL_TASK_LANDMARKS,      FL_TASK_CLASSIFICATION,
                                                     FL_TASK_SKIN_METRICS, FL_TASK_CLASSIFICATION, FL_TASK_IMAGE_TO_IMAGE};
static const char *const STAGE_WHO[FL_STAGE_COUNT] = {"the face detector",         "the face landmarker",
                                                      "the expression classifier", "the skin measurer",
                                                      "the acne grader",           "the face restorer"};

typedef struct stage {
    fl_bundle *bundle; /* NULL: skipped */
    fl_model *model;
    const fl_input_spec *spec;
    char name[160]; /* "bundle:<name>" or SKIPPED */
    float *tensor;  /* spec's H x W x C */
    const char **labels;
    size_t label_count;
    int logits;
    int flip; /* output.test_time_flip: the mirror's scores averaged in (`tensor` is its work buffer) */
} stage;

typedef struct face {
    fl_box box;
    int64_t track_id; /* -1 in IMAGE mode */
    int expression_due, skin_due; /* the stage runs on this face (this frame) */
    double extent[4]; /* the box in the landmarks' extent convention (x, y, w, h) */
    float landmarks[2 * FL_LANDMARK_COUNT];
    float regions[2 * FL_REGION_POINTS_TOTAL];
    fl_classification expression, acne;
    int has_expression, has_acne, has_skin;
    fl_acne_grade acne_grade;
    fl_skin_report skin;
} face;

struct fl_result {
    int width, height;
    int video, detections; /* a VIDEO frame; detector runs for this result */
    int64_t timestamp_ms;
    const char *detector, *landmarks_source;
    const char *stages[FL_STAGE_COUNT];
    size_t face_count;
    face *faces;
    fl_timings timings;
};

struct fl_analyzer {
    stage stages[FL_STAGE_COUNT];
    fl_detection_decoder decoder;
    size_t max_faces;
    fl_box *boxes;      /* max_faces */
    uint8_t *aligned;   /* an aligned crop per face, 4 bytes per pixel at most; grows to the most faces seen */
    size_t aligned_faces;
    float *scores;      /* max_faces rows of expression, then of acne scores */
    fl_scratch *scratch;
    fl_skin_analyzer skin;      /* measurer, acne model, restorer and their buffers */
    fl_skin_face *skin_faces;   /* max_faces */
    fl_decoded_image decoded;
    fl_result result;
    /* VIDEO mode */
    fl_running_mode mode;
    int expression_every, skin_every, smoothing;
    fl_tracker tracker;
    int has_timestamp;
    int64_t last_timestamp;
    double *smoothed; /* one face's points, then one face's expression scores, in double */
};

const char *fl_stage_bundle_name(fl_stage s)
{
    return (int)s >= 0 && (int)s < FL_STAGE_COUNT ? STAGE_BUNDLES[s] : NULL;
}

void fl_analyzer_options_init(fl_analyzer_options *o)
{
    if (o == NULL) return;
    memset(o, 0, sizeof *o);
    o->accelerator = FL_ACCELERATOR_AUTO;
    o->threads = 1; /* as facelite.options.DEFAULT_THREADS: small models run faster on one */
    o->min_face_score = -1.0;
    o->max_faces = FL_DEFAULT_MAX_FACES;
    o->skin = 1;
    o->restore = 0;
    o->running_mode = FL_RUNNING_MODE_IMAGE;
    o->detect_every_n_frames = 15;
    o->expression_every_n_frames = 1;
    o->skin_every_n_frames = 10;
    o->smoothing = 1;
}

/* -- creation ---------------------------------------------------------------------------- */

/* The stage's bundle: given, from its path, or <bundles_dir>/<name>/<name>.flb when that
 * file exists; *out stays NULL when none is (and `looked` says where it was looked for). */
static fl_status open_stage_bundle(const fl_analyzer_options *o, fl_stage s, fl_bundle **out, char *looked,
                                   size_t looked_cap, fl_error *err)
{
    char path[4096];
    *out = NULL;
    looked[0] = '\0';
    if (o->bundles[s] != NULL) {
        fl_bundle_retain(o->bundles[s]);
        *out = o->bundles[s];
        return FL_OK;
    }
    const char *given = o->bundle_paths[s];
    if (given == NULL && o->bundles_dir != NULL) {
        struct stat st;
        int n = snprintf(path, sizeof path, "%s/%s/%s.flb", o->bundles_dir, STAGE_BUNDLES[s], STAGE_BUNDLES[s]);
        if (n < 0 || (size_t)n >= sizeof path)
            return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "bundles_dir '%.200s...' is too long", o->bundles_dir);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(looked, looked_cap, "%s", path);
            return FL_OK;
        }
        given = path;
    }
    if (given == NULL) {
        snprintf(looked, looked_cap, "no bundle_paths[%d] and no bundles_dir", (int)s);
        return FL_OK;
    }
    return fl_bundle_open(given, o->bundle_options, out, err);
}

static fl_status check_stage(stage *st, fl_stage s, fl_error *err)
{
    const char *where = fl_bundle_path(st->bundle);
    fl_task task = fl_bundle_task(st->bundle);
    if (task != STAGE_TASKS[s])
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: is a '%s' bundle; %s needs '%s'", where, fl_task_name(task),
                       STAGE_WHO[s], fl_task_name(STAGE_TASKS[s]));
    return fl_model_check_task(st->bundle, st->model, err);
}

/* The restoration stage: the restorer loads and checks its own model (restoration.c). */
static fl_status load_restorer(fl_analyzer *a, const fl_analyzer_options *o, fl_error *err)
{
    stage *st = &a->stages[FL_STAGE_RESTORATION];
    fl_skin_analyzer *skin = &a->skin;
    if (fl_bundle_task(st->bundle) != FL_TASK_IMAGE_TO_IMAGE)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: is a '%s' bundle; the face restorer needs 'image_to_image'",
                       fl_bundle_path(st->bundle), fl_task_name(fl_bundle_task(st->bundle)));
    fl_status status = fl_restorer_create(st->bundle, o->variant, o->accelerator, o->threads, &skin->restorer, err);
    if (status != FL_OK) return status;
    skin->restorer_name = fl_bundle_name(st->bundle), skin->restorer_version = fl_bundle_version(st->bundle);
    snprintf(st->name, sizeof st->name, "bundle:%s", fl_bundle_name(st->bundle));
    return FL_OK;
}

/* The variant stage `s` runs: the options' (`SkinAnalyzer._base`), except that skin_metrics,
 * image arithmetic shipped in fp32 only, runs on its own choice (auto) when its bundle lacks
 * the requested variant (`own_variant_if_missing`), so a quantised pipeline still measures skin. */
static const char *stage_variant(const stage *st, fl_stage s, const char *variant)
{
    if (s != FL_STAGE_SKIN_METRICS || variant == NULL || strcmp(variant, "auto") == 0) return variant;
    return fl_manifest_variant(&st->bundle->manifest, variant) != NULL ? variant : NULL;
}

static fl_status load_stage(fl_analyzer *a, const fl_analyzer_options *o, fl_stage s, fl_error *err)
{
    stage *st = &a->stages[s];
    if (s == FL_STAGE_RESTORATION) return load_restorer(a, o, err);
    fl_status status =
        fl_model_create(st->bundle, stage_variant(st, s, o->variant), o->accelerator, o->threads, &st->model, err);
    if (status != FL_OK) return status;
    if ((status = check_stage(st, s, err)) != FL_OK) return status;
    st->spec = fl_bundle_input_spec(st->bundle);
    snprintf(st->name, sizeof st->name, "bundle:%s", fl_bundle_name(st->bundle));
    if (s == FL_STAGE_SKIN_METRICS) { /* the measurer makes its own input */
        status = fl_skin_measurer_create(st->bundle, st->model, &a->skin.measurer, err);
        if (status == FL_OK) status = fl_score_table_read(st->bundle, &a->skin.scores, err);
        a->skin.measurer_name = fl_bundle_name(st->bundle), a->skin.measurer_version = fl_bundle_version(st->bundle);
        return status == FL_OK ? fl_ok(err) : status;
    }
    size_t count = (size_t)st->spec->height * (size_t)st->spec->width * (size_t)st->spec->channels;
    st->tensor = malloc(count * sizeof *st->tensor);
    if (st->tensor == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for %s's input", STAGE_BUNDLES[s]);
    if (STAGE_TASKS[s] == FL_TASK_CLASSIFICATION) {
        st->label_count = fl_bundle_label_count(st->bundle);
        st->labels = malloc(st->label_count * sizeof *st->labels);
        if (st->labels == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for labels");
        for (size_t i = 0; i < st->label_count; i++) st->labels[i] = fl_bundle_label(st->bundle, i);
        st->logits = fl_classification_logits(st->bundle);
        st->flip = fl_classification_flip(st->bundle);
    }
    if (s == FL_STAGE_ACNE) {
        fl_acne_model acne = {st->model, st->spec, st->logits, st->flip, fl_acne_decision_of(st->bundle),
                              st->label_count, st->tensor,
                              malloc(FL_ACNE_VIEW_MAX * st->label_count * sizeof(float)),
                              malloc(st->label_count * sizeof(double))};
        a->skin.acne = acne;
        if (acne.probabilities == NULL || acne.combined == NULL)
            return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for the acne views' scores");
        a->skin.acne_name = fl_bundle_name(st->bundle), a->skin.acne_version = fl_bundle_version(st->bundle);
    }
    return fl_ok(err);
}

static fl_status check_options(const fl_analyzer_options *o, fl_error *err)
{
    if (o->max_faces < 1 || o->max_faces > MAX_FACES_LIMIT)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "max_faces %d: must be 1 to %d", o->max_faces, MAX_FACES_LIMIT);
    if (isnan(o->min_face_score) || o->min_face_score > 1.0)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "min_face_score %g: must be 0 to 1, or negative for the detector bundle's own threshold",
                       o->min_face_score);
    if (o->threads < 0)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "threads %d: must be 0 (LiteRT decides) or more", o->threads);
    if (o->running_mode != FL_RUNNING_MODE_IMAGE && o->running_mode != FL_RUNNING_MODE_VIDEO)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "running_mode %d: must be FL_RUNNING_MODE_IMAGE (0) or FL_RUNNING_MODE_VIDEO (1)",
                       (int)o->running_mode);
    const char *names[] = {"detect_every_n_frames", "expression_every_n_frames", "skin_every_n_frames"};
    const int every[] = {o->detect_every_n_frames, o->expression_every_n_frames, o->skin_every_n_frames};
    for (int k = 0; k < 3; k++)
        if (every[k] < 1)
            return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "%s %d: must be a whole number >= 1 (1 = every frame)",
                           names[k], every[k]);
    if (o->bundles_dir != NULL) {
        struct stat st;
        if (stat(o->bundles_dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return fl_fail(err, FL_ERR_IO,
                           "%s: no such bundles folder; pass a folder holding <name>/<name>.flb bundles",
                           o->bundles_dir);
    }
    return FL_OK;
}

static void name_stage(stage *st, const char *name)
{
    snprintf(st->name, sizeof st->name, "%s", name);
}

/* Whether stage `s` is looked for at all (`FaceAnalyzer` / `SkinAnalyzer`): the skin stages
 * with `skin` on, acne and restoration only when there is a skin_metrics bundle,
 * restoration only with `restore` on. */
static int wanted(const fl_analyzer *a, const fl_analyzer_options *o, fl_stage s)
{
    if (s < FL_STAGE_SKIN_METRICS) return 1;
    if (!o->skin) return 0;
    if (s == FL_STAGE_SKIN_METRICS) return 1;
    return a->stages[FL_STAGE_SKIN_METRICS].bundle != NULL && (s != FL_STAGE_RESTORATION || o->restore);
}

static fl_status open_bundles(fl_analyzer *a, const fl_analyzer_options *o, fl_error *err)
{
    char looked[FL_STAGE_COUNT][4200];
    for (int s = 0; s < FL_STAGE_COUNT; s++) {
        stage *st = &a->stages[s];
        name_stage(st, s >= FL_STAGE_SKIN_METRICS && !o->skin ? OFF : SKIPPED);
        if (s == FL_STAGE_RESTORATION && o->skin && !o->restore && a->stages[FL_STAGE_SKIN_METRICS].bundle != NULL)
            name_stage(st, OFF);
        looked[s][0] = '\0';
        if (!wanted(a, o, (fl_stage)s)) continue;
        fl_status status = open_stage_bundle(o, (fl_stage)s, &st->bundle, looked[s], sizeof looked[s], err);
        if (status != FL_OK) return status;
    }
    stage *acne = &a->stages[FL_STAGE_ACNE];
    if (acne->bundle != NULL && fl_bundle_input_spec(acne->bundle)->crop != FL_CROP_FACE) {
        fl_bundle_destroy(acne->bundle); /* v1: graded whole photos; `AcneGrader` needs face crops */
        acne->bundle = NULL;
        name_stage(acne, SKIPPED_V1_ACNE);
    }
    if (a->stages[FL_STAGE_DETECTOR].bundle == NULL || a->stages[FL_STAGE_LANDMARKS].bundle == NULL) {
        int both = a->stages[FL_STAGE_DETECTOR].bundle == NULL && a->stages[FL_STAGE_LANDMARKS].bundle == NULL;
        int first = a->stages[FL_STAGE_DETECTOR].bundle == NULL ? FL_STAGE_DETECTOR : FL_STAGE_LANDMARKS;
        return fl_fail(err, FL_ERR_IO,
                       "no %s%s bundle (%.1000s%s%.1000s not found); put the bundle there, pass a bundles folder that "
                       "has it (fl_analyzer_options.bundles_dir) or its path (bundle_paths[]); the C core has no "
                       "stand-ins",
                       STAGE_BUNDLES[first], both ? " or landmarks" : "", looked[first], both ? ", " : "",
                       both ? looked[FL_STAGE_LANDMARKS] : "");
    }
    if (wanted(a, o, FL_STAGE_RESTORATION) && a->stages[FL_STAGE_RESTORATION].bundle == NULL)
        return fl_fail(err, FL_ERR_IO,
                       "restore needs a restoration bundle (%.1000s not found); put one there, pass its path "
                       "(bundle_paths[FL_STAGE_RESTORATION]) or leave restore off",
                       looked[FL_STAGE_RESTORATION]);
    return FL_OK;
}

fl_status fl_analyzer_create(const fl_analyzer_options *options, fl_analyzer **out, fl_error *err)
{
    fl_analyzer_options defaults;
    if (out == NULL) return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_analyzer_create: out must not be NULL");
    *out = NULL;
    if (options == NULL) {
        fl_analyzer_options_init(&defaults);
        options = &defaults;
    }
    fl_status st = check_options(options, err);
    if (st != FL_OK) return st;
    fl_analyzer *a = calloc(1, sizeof *a);
    if (a == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory creating an analyzer");
    fl_decoded_image_init(&a->decoded);
    a->max_faces = (size_t)options->max_faces;
    if ((st = open_bundles(a, options, err)) != FL_OK) goto fail;
    for (int s = 0; s < FL_STAGE_COUNT; s++) {
        if (a->stages[s].bundle != NULL && (st = load_stage(a, options, (fl_stage)s, err)) != FL_OK) goto fail;
    }
    stage *det = &a->stages[FL_STAGE_DETECTOR];
    if ((st = fl_detection_decoder_init(&a->decoder, det->bundle, det->model, options->min_face_score, a->max_faces,
                                        err)) != FL_OK)
        goto fail;
    if ((st = fl_scratch_create(&a->scratch, err)) != FL_OK) goto fail;
    size_t labels = a->stages[FL_STAGE_EXPRESSION].label_count + a->stages[FL_STAGE_ACNE].label_count;
    a->boxes = malloc(a->max_faces * sizeof *a->boxes);
    a->scores = malloc(a->max_faces * (labels ? labels : 1) * sizeof *a->scores);
    a->result.faces = calloc(a->max_faces, sizeof *a->result.faces);
    a->skin_faces = calloc(a->max_faces, sizeof *a->skin_faces);
    if (!a->boxes || !a->scores || !a->result.faces || !a->skin_faces) {
        st = fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for %zu faces", a->max_faces);
        goto fail;
    }
    a->mode = options->running_mode;
    a->expression_every = options->expression_every_n_frames;
    a->skin_every = options->skin_every_n_frames;
    a->smoothing = options->smoothing != 0;
    a->smoothed = malloc((2 * FL_LANDMARK_COUNT + a->stages[FL_STAGE_EXPRESSION].label_count) * sizeof *a->smoothed);
    if (a->smoothed == NULL) {
        st = fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for smoothing");
        goto fail;
    }
    if ((st = fl_tracker_create(&a->tracker, a->max_faces, options->detect_every_n_frames,
                                a->stages[FL_STAGE_EXPRESSION].label_count, a->stages[FL_STAGE_ACNE].label_count,
                                err)) != FL_OK)
        goto fail;
    a->result.detector = det->name;
    a->result.landmarks_source = a->stages[FL_STAGE_LANDMARKS].name;
    for (int s = 0; s < FL_STAGE_COUNT; s++) a->result.stages[s] = a->stages[s].name;
    *out = a;
    return fl_ok(err);
fail:
    fl_analyzer_destroy(a);
    return st;
}

void fl_analyzer_destroy(fl_analyzer *a)
{
    if (a == NULL) return;
    for (int s = 0; s < FL_STAGE_COUNT; s++) {
        stage *st = &a->stages[s];
        fl_model_destroy(st->model);
        fl_bundle_destroy(st->bundle);
        free(st->tensor);
        free(st->labels);
    }
    fl_detection_decoder_free(&a->decoder);
    fl_scratch_destroy(a->scratch);
    fl_decoded_image_release(&a->decoded);
    fl_skin_measurer_destroy(a->skin.measurer);
    fl_restorer_destroy(a->skin.restorer);
    fl_skin_analyzer_release(&a->skin);
    free(a->skin.acne.probabilities);
    free(a->skin.acne.combined);
    free(a->skin_faces);
    free(a->boxes);
    free(a->aligned);
    free(a->scores);
    free(a->result.faces);
    free(a->smoothed);
    fl_tracker_release(&a->tracker);
    free(a);
}

const char *fl_analyzer_stage(const fl_analyzer *a, fl_stage s)
{
    return a != NULL && (int)s >= 0 && (int)s < FL_STAGE_COUNT ? a->stages[s].name : NULL;
}

const fl_model *fl_analyzer_model(const fl_analyzer *a, fl_stage s)
{
    return a != NULL && (int)s >= 0 && (int)s < FL_STAGE_COUNT ? a->stages[s].model : NULL;
}

const fl_model_info *fl_analyzer_model_info(const fl_analyzer *a, fl_stage s)
{
    if (a != NULL && s == FL_STAGE_RESTORATION)
        return a->skin.restorer ? fl_restorer_model_info(a->skin.restorer) : NULL;
    const fl_model *model = fl_analyzer_model(a, s);
    return model ? fl_model_get_info(model) : NULL;
}

/* -- the pipeline -------------------------------------------------------------------------- */

static const char *const MODE_NAMES[] = {"IMAGE", "VIDEO"};
static const char *const MODE_CALLS[] = {"fl_analyze(analyzer, image, ...)",
                                         "fl_analyze_video_frame(analyzer, frame, timestamp_ms, ...)"};

/* FL_ERR_INVALID_ARGUMENT unless the analyzer runs in `mode` (`FaceAnalyzer._check_mode`). */
static fl_status check_mode(const fl_analyzer *a, fl_running_mode mode, const char *call, fl_error *err)
{
    if (a->mode == mode) return FL_OK;
    return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                   "%s: this analyzer runs in %s mode (fl_analyzer_options.running_mode); give it frames with %s, "
                   "or create one with running_mode FL_RUNNING_MODE_%s for %s",
                   call, MODE_NAMES[a->mode], MODE_CALLS[a->mode], MODE_NAMES[mode], call);
}

/* `FaceAnalyzer._face_boxes`: the whole image through the detector; boxes in image pixels,
 * best first, the elongated ones dropped, in a->boxes; their number in *count. */
static fl_status face_boxes(fl_analyzer *a, const fl_image *image, size_t *count, fl_error *err)
{
    stage *st = &a->stages[FL_STAGE_DETECTOR];
    fl_placement where;
    *count = 0;
    fl_status status = fl_model_run_image(st->model, image, st->spec, NULL, &where, a->scratch, err);
    if (status != FL_OK) return status;
    size_t n = fl_detection_decode(&a->decoder, st->model, a->boxes);
    n = fl_detection_to_image(&a->decoder, &where, image->width, image->height, a->boxes, n);
    for (size_t i = 0; i < n; i++) {
        const fl_box *b = &a->boxes[i];
        double longer = b->w > b->h ? b->w : b->h, shorter = b->w < b->h ? b->w : b->h;
        if (longer <= FL_MAX_FACE_BOX_ASPECT * shorter) a->boxes[(*count)++] = *b;
    }
    return FL_OK;
}

/* IMAGE mode: every box a face, on which every stage runs. */
static fl_status detect(fl_analyzer *a, const fl_image *image, fl_error *err)
{
    fl_result *r = &a->result;
    size_t n;
    fl_status status = face_boxes(a, image, &n, err);
    for (size_t i = 0; status == FL_OK && i < n; i++) {
        face *f = &r->faces[i];
        f->box = a->boxes[i];
        f->track_id = -1;
        f->expression_due = f->skin_due = 1;
    }
    r->face_count = status == FL_OK ? n : 0;
    return status;
}

static fl_status landmarks(fl_analyzer *a, const fl_image *image, fl_error *err)
{
    stage *st = &a->stages[FL_STAGE_LANDMARKS];
    for (size_t i = 0; i < a->result.face_count; i++) {
        face *f = &a->result.faces[i];
        fl_box e = fl_box_to_extent(f->box, a->decoder.box_margin);
        f->extent[0] = e.x, f->extent[1] = e.y, f->extent[2] = e.w, f->extent[3] = e.h;
        fl_status status =
            fl_landmarks_detect(st->model, st->spec, image, f->extent, a->scratch, f->landmarks, NULL, err);
        if (status != FL_OK) return status;
    }
    return FL_OK;
}

static uint8_t *aligned_crop(fl_analyzer *a, size_t i)
{
    return a->aligned + i * (size_t)FL_ALIGNED_SIZE * FL_ALIGNED_SIZE * 4;
}

static fl_status align_regions(fl_analyzer *a, const fl_image *image, fl_error *err)
{
    if (a->result.face_count > a->aligned_faces) {
        uint8_t *grown = realloc(a->aligned, a->result.face_count * (size_t)FL_ALIGNED_SIZE * FL_ALIGNED_SIZE * 4);
        if (grown == NULL)
            return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for %zu aligned faces", a->result.face_count);
        a->aligned = grown;
        a->aligned_faces = a->result.face_count;
    }
    const int expression = a->stages[FL_STAGE_EXPRESSION].model != NULL;
    for (size_t i = 0; i < a->result.face_count; i++) {
        face *f = &a->result.faces[i];
        if (expression && f->expression_due) { /* the aligned crop is the expression's input */
            fl_status st = fl_align_face(image, f->landmarks, FL_ALIGNED_SIZE, aligned_crop(a, i), NULL, err);
            if (st != FL_OK) return st;
        }
        fl_face_regions(f->landmarks, image->width, image->height, f->regions);
    }
    return FL_OK;
}

/* Run a classification stage on `pixels` [+ box], its scores into `scores`, the answer into `out`. */
static fl_status classify(fl_analyzer *a, stage *st, const fl_image *pixels, const double *box, float *scores,
                          fl_classification *out, fl_error *err)
{
    fl_status status = fl_model_run_image(st->model, pixels, st->spec, box, NULL, a->scratch, err);
    if (status != FL_OK) return status;
    size_t n;
    const float *raw = fl_model_output(st->model, 0, &n);
    if (raw == NULL || n != st->label_count)
        return fl_fail(err, FL_ERR_INTERNAL, "%s gave no output of %zu scores", st->name, st->label_count);
    size_t top = fl_classification_scores(raw, n, st->logits, scores);
    if (st->flip &&
        (status = fl_classification_flip_pixels(st->model, st->spec, (uint8_t *)st->tensor, st->logits, scores, n,
                                                &top, err)) != FL_OK)
        return status;
    out->label = st->labels[top];
    out->score = scores[top];
    out->count = st->label_count;
    out->labels = st->labels;
    out->scores = scores;
    return FL_OK;
}

static fl_status expression(fl_analyzer *a, const fl_image *image, fl_error *err)
{
    stage *st = &a->stages[FL_STAGE_EXPRESSION];
    for (size_t i = 0; i < a->result.face_count; i++) {
        face *f = &a->result.faces[i];
        f->has_expression = st->model != NULL && f->expression_due;
        if (!f->has_expression) continue;
        int channels = fl_pixel_format_channels(image->format);
        fl_image crop = {aligned_crop(a, i), FL_ALIGNED_SIZE, FL_ALIGNED_SIZE,
                         (size_t)FL_ALIGNED_SIZE * (size_t)channels, image->format};
        fl_status status = classify(a, st, &crop, NULL, a->scores + i * st->label_count, &f->expression, err);
        if (status != FL_OK) return status;
    }
    return FL_OK;
}

/* Skin (`SkinAnalyzer.analyze_faces`, skin.c): the report and acne grade of every face due. */
static fl_status skin(fl_analyzer *a, const fl_image *image, fl_error *err)
{
    fl_result *r = &a->result;
    const stage *acne = &a->stages[FL_STAGE_ACNE];
    float *rows = a->scores + a->max_faces * a->stages[FL_STAGE_EXPRESSION].label_count;
    size_t due = 0;
    for (size_t i = 0; i < r->face_count; i++) {
        face *f = &r->faces[i];
        f->has_skin = a->skin.measurer != NULL && f->skin_due;
        f->has_acne = f->has_skin && acne->model != NULL;
        fl_skin_face sf = {f->landmarks, f->extent, &f->skin, &f->acne_grade, rows + i * acne->label_count};
        if (f->has_skin) a->skin_faces[due++] = sf;
    }
    if (a->skin.measurer == NULL) {
        fl_timings *t = &r->timings;
        t->skin_crop_ms = t->skin_measures_ms = t->quality_ms = t->restoration_ms = t->acne_ms = NAN;
        t->skin_ms = 0.0;
        return FL_OK;
    }
    fl_status st = fl_skin_analyze_faces(&a->skin, image, a->skin_faces, due, a->scratch, &r->timings, err);
    for (size_t i = 0; st == FL_OK && i < r->face_count; i++) {
        face *f = &r->faces[i];
        if (!f->has_acne) continue;
        float *scores = rows + i * acne->label_count;
        fl_classification c = {acne->labels[f->acne_grade.top], scores[f->acne_grade.top], acne->label_count,
                               acne->labels, scores};
        f->acne = c;
    }
    return st;
}

static fl_status run_pipeline(fl_analyzer *a, const fl_image *image, double load_ms, const fl_result **out,
                              fl_error *err)
{
    typedef fl_status (*step_fn)(fl_analyzer *, const fl_image *, fl_error *);
    static const step_fn steps[] = {detect, landmarks, align_regions, expression, skin};
    fl_result *r = &a->result;
    fl_timings *t = &r->timings;
    double skin_ms; /* skin() fills the skin stages' own timings */
    double *slots[] = {&t->detect_ms, &t->landmarks_ms, &t->align_regions_ms, &t->expression_ms, &skin_ms};
    memset(t, 0, sizeof *t);
    t->smoothing_ms = NAN;
    r->face_count = 0;
    r->width = image->width;
    r->height = image->height;
    r->video = 0, r->detections = 1, r->timestamp_ms = 0;
    double t0 = fl_now_ms();
    fl_status st = fl_image_check(image, err);
    if (st != FL_OK) return st;
    t->load_ms = load_ms + (fl_now_ms() - t0);
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        t0 = fl_now_ms();
        if ((st = steps[k](a, image, err)) != FL_OK) {
            r->face_count = 0;
            return st;
        }
        *slots[k] = fl_now_ms() - t0;
    }
    t->total_ms = t->load_ms + t->detect_ms + t->landmarks_ms + t->align_regions_ms + t->expression_ms + t->skin_ms;
    *out = r;
    return fl_ok(err);
}

fl_status fl_analyze(fl_analyzer *a, const fl_image *image, const fl_result **out, fl_error *err)
{
    if (a == NULL || image == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_analyze: analyzer, image and out must not be NULL");
    *out = NULL;
    fl_status st = check_mode(a, FL_RUNNING_MODE_IMAGE, "fl_analyze", err);
    return st == FL_OK ? run_pipeline(a, image, 0.0, out, err) : st;
}

fl_status fl_analyze_file(fl_analyzer *a, const char *path, const fl_result **out, fl_error *err)
{
    if (a == NULL || path == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_analyze_file: analyzer, path and out must not be NULL");
    *out = NULL;
    fl_status st = check_mode(a, FL_RUNNING_MODE_IMAGE, "fl_analyze_file", err);
    if (st != FL_OK) return st;
    double t0 = fl_now_ms();
    st = fl_image_load(path, &a->decoded, err);
    if (st != FL_OK) return st;
    return run_pipeline(a, &a->decoded.image, fl_now_ms() - t0, out, err);
}

/* -- VIDEO mode (docs/video.md, `FaceAnalyzer._analyze_tracked`) -------------------------- */

/* What the tracker's callbacks need: the analyzer and the frame. */
typedef struct frame_context {
    fl_analyzer *analyzer;
    const fl_image *image;
} frame_context;

/* `_detect_for_tracker`: the frame's face boxes and their landmark extents. */
static fl_status detect_for_tracker(void *context, fl_box *boxes, double (*extents)[4], size_t *count,
                                    fl_error *err)
{
    frame_context *c = context;
    fl_analyzer *a = c->analyzer;
    double t0 = fl_now_ms();
    fl_status st = face_boxes(a, c->image, count, err);
    for (size_t i = 0; st == FL_OK && i < *count; i++) {
        fl_box e = fl_box_to_extent(a->boxes[i], a->decoder.box_margin);
        boxes[i] = a->boxes[i];
        extents[i][0] = e.x, extents[i][1] = e.y, extents[i][2] = e.w, extents[i][3] = e.h;
    }
    a->result.timings.detect_ms += fl_now_ms() - t0;
    return st;
}

/* `_landmarks_for_tracker`: 68 points in each extent box, and the appearance thumbnail of
 * the face in the crop the model saw (`fl_model_pixels`: no second resize). */
static fl_status landmarks_for_tracker(void *context, const double (*extents)[4], size_t count, float *points,
                                       int64_t *thumbnails, unsigned char *has_thumbnail, fl_error *err)
{
    frame_context *c = context;
    fl_analyzer *a = c->analyzer;
    const stage *st = &a->stages[FL_STAGE_LANDMARKS];
    double t0 = fl_now_ms();
    fl_status status = FL_OK;
    for (size_t i = 0; status == FL_OK && i < count; i++) {
        float *found = points + i * 2 * FL_LANDMARK_COUNT;
        fl_placement where;
        status = fl_landmarks_detect(st->model, st->spec, c->image, extents[i], a->scratch, found, &where, err);
        double p[2 * FL_LANDMARK_COUNT];
        for (int k = 0; status == FL_OK && k < 2 * FL_LANDMARK_COUNT; k++) p[k] = (double)found[k];
        if (status == FL_OK)
            has_thumbnail[i] = (unsigned char)fl_track_appearance(fl_model_pixels(st->model), st->spec->height,
                                                                  st->spec->width, st->spec->channels, &where, p,
                                                                  thumbnails + i * FL_TRACK_APPEARANCE_SIZE);
    }
    a->result.timings.landmarks_ms += fl_now_ms() - t0;
    return status;
}

/* A tracked face's reported points (smoothed, or raw) and box (`Box(*extent_box(p),
 * score=track.score)`, from the float32 points as numpy computes it). */
static void track_face(fl_analyzer *a, fl_track *track, double seconds, face *f)
{
    double *p = a->smoothed;
    if (a->smoothing)
        fl_point_smoother_apply(&track->smoother, track->points, seconds, p);
    else
        memcpy(p, track->points, sizeof track->points);
    for (int c = 0; c < 2 * FL_LANDMARK_COUNT; c++) f->landmarks[c] = (float)p[c];
    float x0 = f->landmarks[0], y0 = f->landmarks[1], x1 = x0, y1 = y0;
    for (int k = 1; k < FL_LANDMARK_COUNT; k++) {
        const float x = f->landmarks[2 * k], y = f->landmarks[2 * k + 1];
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
    }
    fl_box box = {x0, y0, (float)(x1 - x0), (float)(y1 - y0), track->score};
    f->box = box;
    f->track_id = track->id;
    memcpy(f->extent, track->crop, sizeof f->extent); /* the skin's face box: the crop the points came from */
    f->expression_due = fl_track_due(track, a->expression_every);
    f->skin_due = fl_track_due(track, a->skin_every);
}

/* After the stages ran on the faces due: each track keeps its new results (expression
 * probabilities through its ScoreSmoother), and every face reports its track's last ones. */
static void carry_results(fl_analyzer *a, double seconds)
{
    fl_result *r = &a->result;
    const stage *ex = &a->stages[FL_STAGE_EXPRESSION];
    for (size_t i = 0; i < r->face_count; i++) {
        face *f = &r->faces[i];
        fl_track *track = a->tracker.tracks[i];
        if (f->has_expression) {
            if (a->smoothing) {
                double *smoothed = a->smoothed + 2 * FL_LANDMARK_COUNT;
                track->expression_top =
                    fl_score_smooth(track->score_filters, ex->label_count, f->expression.scores, seconds, smoothed);
                for (size_t k = 0; k < ex->label_count; k++) track->expression[k] = (float)smoothed[k];
            } else {
                track->expression_top = 0;
                for (size_t k = 0; k < ex->label_count; k++) {
                    track->expression[k] = f->expression.scores[k];
                    if (ex->labels[k] == f->expression.label) track->expression_top = k; /* the classifier's top */
                }
            }
            track->has_expression = 1;
        }
        if (f->has_skin) {
            track->skin = f->skin;
            track->has_skin = 1;
            track->has_acne = f->has_acne;
            if (f->has_acne) {
                track->acne = f->acne_grade;
                memcpy(track->acne_scores, f->acne.scores, a->stages[FL_STAGE_ACNE].label_count * sizeof(float));
            }
        }
        f->has_expression = track->has_expression;
        if (track->has_expression) {
            fl_classification c = {ex->labels[track->expression_top], track->expression[track->expression_top],
                                   ex->label_count, ex->labels, track->expression};
            f->expression = c;
        }
        f->has_skin = track->has_skin;
        f->has_acne = track->has_acne;
        if (track->has_skin) f->skin = track->skin;
        if (track->has_acne) {
            const stage *acne = &a->stages[FL_STAGE_ACNE];
            f->acne_grade = track->acne;
            fl_classification c = {acne->labels[track->acne.top], track->acne_scores[track->acne.top],
                                   acne->label_count, acne->labels, track->acne_scores};
            f->acne = c;
        }
    }
}

static fl_status check_timestamp(fl_analyzer *a, int64_t timestamp_ms, fl_error *err)
{
    if (a->has_timestamp && timestamp_ms <= a->last_timestamp)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "timestamp_ms %lld: must be greater than the previous frame's %lld; timestamps strictly "
                       "increase within a clip (call fl_analyzer_reset to start a new clip)",
                       (long long)timestamp_ms, (long long)a->last_timestamp);
    a->has_timestamp = 1;
    a->last_timestamp = timestamp_ms;
    return FL_OK;
}

static fl_status run_video_frame(fl_analyzer *a, const fl_image *image, double load_ms, int64_t timestamp_ms,
                                 const fl_result **out, fl_error *err)
{
    fl_result *r = &a->result;
    fl_timings *t = &r->timings;
    memset(t, 0, sizeof *t);
    r->face_count = 0;
    r->width = image->width;
    r->height = image->height;
    r->video = 1, r->detections = 0, r->timestamp_ms = timestamp_ms;
    double t0 = fl_now_ms();
    fl_status st = fl_image_check(image, err);
    if (st != FL_OK) return st;
    t->load_ms = load_ms + (fl_now_ms() - t0);

    frame_context context = {a, image};
    long before = a->tracker.detections_run;
    st = fl_tracker_step(&a->tracker, image->width, image->height, detect_for_tracker, landmarks_for_tracker,
                         &context, err);
    if (st != FL_OK) return st;
    r->detections = (int)(a->tracker.detections_run - before);

    t0 = fl_now_ms();
    const double seconds = (double)timestamp_ms / 1000.0;
    for (size_t i = 0; i < a->tracker.count; i++) track_face(a, a->tracker.tracks[i], seconds, &r->faces[i]);
    r->face_count = a->tracker.count;
    t->smoothing_ms = fl_now_ms() - t0;

    typedef fl_status (*step_fn)(fl_analyzer *, const fl_image *, fl_error *);
    static const step_fn steps[] = {align_regions, expression, skin};
    double skin_ms;
    double *slots[] = {&t->align_regions_ms, &t->expression_ms, &skin_ms};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        t0 = fl_now_ms();
        if ((st = steps[k](a, image, err)) != FL_OK) {
            r->face_count = 0;
            return st;
        }
        *slots[k] = fl_now_ms() - t0;
    }
    carry_results(a, seconds);
    t->total_ms = t->load_ms + t->detect_ms + t->landmarks_ms + t->smoothing_ms + t->align_regions_ms +
                  t->expression_ms + t->skin_ms;
    *out = r;
    return fl_ok(err);
}

fl_status fl_analyze_video_frame(fl_analyzer *a, const fl_image *image, int64_t timestamp_ms, const fl_result **out,
                                 fl_error *err)
{
    if (a == NULL || image == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "fl_analyze_video_frame: analyzer, image and out must not be NULL");
    *out = NULL;
    fl_status st = check_mode(a, FL_RUNNING_MODE_VIDEO, "fl_analyze_video_frame", err);
    if (st == FL_OK) st = check_timestamp(a, timestamp_ms, err);
    return st == FL_OK ? run_video_frame(a, image, 0.0, timestamp_ms, out, err) : st;
}

fl_status fl_analyze_video_frame_file(fl_analyzer *a, const char *path, int64_t timestamp_ms, const fl_result **out,
                                      fl_error *err)
{
    if (a == NULL || path == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "fl_analyze_video_frame_file: analyzer, path and out must not be NULL");
    *out = NULL;
    fl_status st = check_mode(a, FL_RUNNING_MODE_VIDEO, "fl_analyze_video_frame_file", err);
    if (st == FL_OK) st = check_timestamp(a, timestamp_ms, err);
    if (st != FL_OK) return st;
    double t0 = fl_now_ms();
    st = fl_image_load(path, &a->decoded, err);
    if (st != FL_OK) return st;
    return run_video_frame(a, &a->decoded.image, fl_now_ms() - t0, timestamp_ms, out, err);
}

void fl_analyzer_reset(fl_analyzer *a)
{
    if (a == NULL) return;
    fl_tracker_reset(&a->tracker);
    a->has_timestamp = 0;
    a->result.face_count = 0;
}

/* -- results ------------------------------------------------------------------------------ */

static const face *face_at(const fl_result *r, size_t i)
{
    return r != NULL && i < r->face_count ? &r->faces[i] : NULL;
}

int fl_result_image_width(const fl_result *r) { return r ? r->width : 0; }
int fl_result_image_height(const fl_result *r) { return r ? r->height : 0; }
const char *fl_result_detector(const fl_result *r) { return r ? r->detector : NULL; }

const char *fl_result_stage(const fl_result *r, fl_stage s)
{
    return r != NULL && (int)s >= 0 && (int)s < FL_STAGE_COUNT ? r->stages[s] : NULL;
}
const fl_timings *fl_result_timings(const fl_result *r) { return r ? &r->timings : NULL; }
size_t fl_result_face_count(const fl_result *r) { return r ? r->face_count : 0; }

const fl_box *fl_result_box(const fl_result *r, size_t i)
{
    const face *f = face_at(r, i);
    return f ? &f->box : NULL;
}

const float *fl_result_landmarks(const fl_result *r, size_t i)
{
    const face *f = face_at(r, i);
    return f ? f->landmarks : NULL;
}

const char *fl_result_landmarks_source(const fl_result *r, size_t i)
{
    return face_at(r, i) ? r->landmarks_source : NULL;
}

int64_t fl_result_track_id(const fl_result *r, size_t i)
{
    const face *f = face_at(r, i);
    return f ? f->track_id : -1;
}

int fl_result_timestamp_ms(const fl_result *r, int64_t *timestamp_ms)
{
    if (r == NULL || !r->video) return 0;
    if (timestamp_ms != NULL) *timestamp_ms = r->timestamp_ms;
    return 1;
}

int fl_result_detections(const fl_result *r)
{
    return r ? r->detections : 0;
}

const float *fl_result_region_at(const fl_result *r, size_t i, size_t index, size_t *point_count)
{
    const face *f = face_at(r, i);
    if (f == NULL || index >= FL_REGION_COUNT) return NULL;
    if (point_count) *point_count = fl_region_points(index);
    return f->regions + 2 * fl_region_offset(index);
}

const float *fl_result_region(const fl_result *r, size_t i, const char *name, size_t *point_count)
{
    for (size_t k = 0; name != NULL && k < FL_REGION_COUNT; k++)
        if (strcmp(name, fl_region_name(k)) == 0) return fl_result_region_at(r, i, k, point_count);
    return NULL;
}

const fl_classification *fl_result_expression(const fl_result *r, size_t i)
{
    const face *f = face_at(r, i);
    return f && f->has_expression ? &f->expression : NULL;
}

const fl_classification *fl_result_acne(const fl_result *r, size_t i)
{
    const face *f = face_at(r, i);
    return f && f->has_acne ? &f->acne : NULL;
}

const fl_skin_report *fl_result_skin(const fl_result *r, size_t i)
{
    const face *f = face_at(r, i);
    return f && f->has_skin ? &f->skin : NULL;
}
