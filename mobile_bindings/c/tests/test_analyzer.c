/* test_analyzer.c: the face pipeline's rules and the analyzer's contract.
 *
 * Parity with Python on real photos is tests/mobile_bindings/test_pipeline_parity.py;
 * here: heatmap peaks and NMS on hand-made heatmaps (border cells, plateaus, ties,
 * thresholds), box helpers, the eye similarity, and the analyzer over the shipped bundles
 * (models/): its errors, skipped stages, any pixel format and size, buffers reused from
 * call to call, and the JSON document. Takes [REPO_ROOT] or $FACELITE_REPO. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "alignment.h"
#include "detection.h"
#include "facelite/analyzer.h"
#include "facelite/preprocess.h"

#define GRID 8

static const char *root;

static void path_of(char *out, size_t cap, const char *rel) { snprintf(out, cap, "%s/%s", root, rel); }

/* -- heatmap decoding and NMS ----------------------------------------------------------- */

static size_t decode(const float *heat, float size, float threshold, double iou, size_t max_boxes, fl_box *out)
{
    static float sizes[GRID * GRID * 2];
    fl_box candidates[GRID * GRID];
    for (int i = 0; i < GRID * GRID * 2; i++) sizes[i] = size;
    return fl_decode_heatmap(heat, 1, sizes, sizes + 1, 2, NULL, NULL, 0, GRID, GRID, 4, 32, 32, 0, threshold, iou,
                             0.0, max_boxes, candidates, out);
}

static void test_heatmap_decoding(void)
{
    float heat[GRID * GRID] = {0};
    fl_box out[GRID * GRID];

    heat[2 * GRID + 5] = 0.9f; /* detection.py's docstring example */
    size_t n = decode(heat, 0.25f, 0.5f, 0.4, 20, out);
    CHECK(n == 1 && out[0].x == 18.0 && out[0].y == 6.0 && out[0].w == 8.0 && out[0].h == 8.0 &&
              out[0].score == (double)0.9f,
          "got %zu boxes, first (%g, %g, %g, %g, %g)", n, out[0].x, out[0].y, out[0].w, out[0].h, out[0].score);

    memset(heat, 0, sizeof heat);
    heat[0] = 0.7f; /* a corner: cv2.dilate's border never beats a cell */
    heat[GRID * GRID - 1] = 0.6f;
    n = decode(heat, 0.1f, 0.5f, 0.4, 20, out);
    CHECK(n == 2 && out[0].score == (double)0.7f && out[1].score == (double)0.6f, "corner peaks: %zu", n);

    memset(heat, 0, sizeof heat);
    heat[3 * GRID + 3] = 0.8f; /* a plateau: both cells are maxima of their windows */
    heat[3 * GRID + 4] = 0.8f;
    n = decode(heat, 0.5f, 0.5f, 0.4, 20, out); /* 16-pixel boxes 4 pixels apart overlap: NMS keeps one */
    CHECK(n == 1 && out[0].x == 6.0, "plateau: %zu boxes, x %g (the first in row-major order)", n,
          n ? out[0].x : -1.0);
    n = decode(heat, 0.02f, 0.5f, 0.4, 20, out); /* 0.64-pixel boxes do not overlap: both kept, in order */
    CHECK(n == 2 && out[0].x < out[1].x, "plateau with small boxes: %zu", n);

    memset(heat, 0, sizeof heat);
    heat[1 * GRID + 1] = 0.4f; /* exactly the threshold (as float32) counts */
    heat[5 * GRID + 5] = nextafterf(0.4f, 0.0f);
    n = decode(heat, 0.1f, 0.4f, 0.4, 20, out);
    CHECK(n == 1 && out[0].score == (double)0.4f, "threshold: %zu boxes", n);

    for (int i = 0; i < GRID * GRID; i++) heat[i] = (i % 2 == 0 && (i / GRID) % 2 == 0) ? 0.9f - 0.001f * (float)i : 0;
    n = decode(heat, 0.05f, 0.5f, 0.4, 3, out);
    CHECK(n == 3 && out[0].score > out[1].score && out[1].score > out[2].score, "max_boxes: %zu", n);
}

static void test_nms(void)
{
    fl_box boxes[4] = {{0, 0, 10, 10, 0.5}, {20, 0, 10, 10, 0.9}, {0, 0, 10, 10, 0.5}, {5, 0, 10, 10, 0.7}};
    fl_box out[4];
    /* sorted: 0.9 (x 20), 0.7 (x 5), 0.5 (x 0, first), 0.5 (x 0, second); x 5 overlaps x 0 by 1/3 */
    size_t n = fl_nms(boxes, 4, 1.0 / 3.0, 0.0, 10, out);
    CHECK(n == 3 && out[0].x == 20 && out[1].x == 5 && out[2].x == 0, "an IoU equal to the threshold is kept: %zu", n);
    fl_box again[4] = {{0, 0, 10, 10, 0.5}, {20, 0, 10, 10, 0.9}, {0, 0, 10, 10, 0.5}, {5, 0, 10, 10, 0.7}};
    n = fl_nms(again, 4, 0.3, 0.0, 10, out);
    CHECK(n == 2 && out[0].x == 20 && out[1].x == 5, "overlaps above the threshold are dropped: %zu", n);
    /* an ear box (30 x 30, two thirds inside the face) has IoU 0.06 with the face: containment drops it */
    fl_box face_ear[2] = {{-10, 30, 30, 30, 0.5}, {0, 0, 100, 100, 0.9}};
    CHECK(fl_nms(face_ear, 2, 0.4, 0.0, 10, out) == 2, "without containment both stay");
    CHECK(fl_nms(face_ear, 2, 0.4, 2.0 / 3.0, 10, out) == 1 && out[0].score == 0.9,
          "a share equal to the containment threshold is dropped");
    CHECK(fl_nms(face_ear, 2, 0.4, 0.7, 10, out) == 2, "a share below the containment threshold is kept");
    fl_box empty = {0, 0, 0, 0, 1}, other = {0, 0, 0, 0, 1};
    CHECK(fl_box_iou(&empty, &other) == 0.0, "empty boxes have IoU 0");
}

static void test_box_helpers(void)
{
    fl_box b = {10, 20, 120, 60, 0.8};
    fl_box e = fl_box_to_extent(b, 0.1); /* 1.2 x the extent */
    CHECK(fabs(e.w - 100) < 1e-12 && fabs(e.h - 50) < 1e-12 && fabs(e.x - 20) < 1e-12 && fabs(e.y - 25) < 1e-12 &&
              e.score == 0.8,
          "extent (%g, %g, %g, %g)", e.x, e.y, e.w, e.h);
    fl_box c = fl_box_clipped((fl_box){-5, 90, 50, 50, 1}, 40, 100);
    CHECK(c.x == 0 && c.y == 90 && c.w == 40 && c.h == 10, "clipped (%g, %g, %g, %g)", c.x, c.y, c.w, c.h);
    c = fl_box_clipped((fl_box){50, 50, 10, 10, 1}, 40, 40);
    CHECK(c.w == 0 && c.h == 0, "a box outside the image is empty");
}

static void test_eye_similarity(void)
{
    double m[6];
    float left[2] = {0.30f * 112, 0.38f * 112}, right[2] = {0.70f * 112, 0.38f * 112};
    fl_similarity_from_eyes(left, right, 112, m);
    CHECK(fabs(m[0] - 1) < 1e-6 && fabs(m[1]) < 1e-6 && fabs(m[2]) < 1e-4 && fabs(m[3]) < 1e-6 &&
              fabs(m[4] - 1) < 1e-6 && fabs(m[5]) < 1e-4,
          "eyes in place give the identity: [%g %g %g; %g %g %g]", m[0], m[1], m[2], m[3], m[4], m[5]);
    float a[2] = {100, 200}, b[2] = {100, 300}; /* a vertical eye line: a quarter turn */
    fl_similarity_from_eyes(a, b, 112, m);
    CHECK(fabs(m[0]) < 1e-12 && fabs(m[4]) < 1e-12 && fabs(m[3] + 44.8 / 100) < 1e-9, "rotation: %g %g", m[0], m[3]);
    float same[2] = {50, 50}; /* degenerate eyes: identity scale about the point, never NaN */
    fl_similarity_from_eyes(same, same, 112, m);
    for (int i = 0; i < 6; i++) CHECK(isfinite(m[i]), "m[%d] = %g", i, m[i]);
}

/* -- the analyzer ------------------------------------------------------------------------- */

static void test_creation_errors(void)
{
    fl_analyzer_options o;
    fl_analyzer *a = (fl_analyzer *)1;
    fl_error err;
    char path[4096];

    fl_analyzer_options_init(&o);
    CHECK_STATUS(fl_analyzer_create(&o, &a, &err), FL_ERR_IO, &err, "no face_detector or landmarks bundle");
    CHECK(a == NULL, "*out is NULL after a failure");

    o.bundles_dir = "/nonexistent/bundles";
    CHECK_STATUS(fl_analyzer_create(&o, &a, &err), FL_ERR_IO, &err, "/nonexistent/bundles: no such bundles folder");

    fl_analyzer_options_init(&o);
    path_of(path, sizeof path, "models");
    o.bundles_dir = path;
    o.max_faces = 0;
    CHECK_STATUS(fl_analyzer_create(&o, &a, &err), FL_ERR_INVALID_ARGUMENT, &err, "max_faces 0");
    o.max_faces = 10;
    o.min_face_score = 1.5;
    CHECK_STATUS(fl_analyzer_create(&o, &a, &err), FL_ERR_INVALID_ARGUMENT, &err, "min_face_score");
    o.min_face_score = -1;
    o.variant = "int4";
    CHECK_STATUS(fl_analyzer_create(&o, &a, &err), FL_ERR_INVALID_ARGUMENT, &err, "int4");
    o.variant = NULL;

    char wrong[4096];
    path_of(wrong, sizeof wrong, "models/expression/expression.flb");
    o.bundle_paths[FL_STAGE_DETECTOR] = wrong;
    CHECK_STATUS(fl_analyzer_create(&o, &a, &err), FL_ERR_BUNDLE_INVALID, &err,
                 "is a 'classification' bundle; the face detector needs 'detection'");
    o.bundle_paths[FL_STAGE_DETECTOR] = NULL;
    o.bundle_paths[FL_STAGE_ACNE] = "/nonexistent/acne.flb"; /* an explicit path must exist, even optional */
    CHECK_STATUS(fl_analyzer_create(&o, &a, &err), FL_ERR_IO, &err, "/nonexistent/acne.flb");
    o.bundle_paths[FL_STAGE_ACNE] = NULL;

    /* restore asks for a restoration bundle, once there is a skin_metrics one to restore for */
    char skin[4096], detector[4096], marks[4096];
    path_of(skin, sizeof skin, "models/skin_metrics/skin_metrics.flb");
    path_of(detector, sizeof detector, "models/face_detector/face_detector.flb");
    path_of(marks, sizeof marks, "models/landmarks/landmarks.flb");
    fl_analyzer_options_init(&o);
    o.bundle_paths[FL_STAGE_DETECTOR] = detector;
    o.bundle_paths[FL_STAGE_LANDMARKS] = marks;
    o.bundle_paths[FL_STAGE_SKIN_METRICS] = skin;
    o.restore = 1;
    CHECK_STATUS(fl_analyzer_create(&o, &a, &err), FL_ERR_IO, &err, "restore needs a restoration bundle");
}

static void test_skipped_stages_and_given_bundles(void)
{
    fl_analyzer_options o;
    fl_analyzer *a = NULL;
    fl_bundle *detector = NULL;
    fl_error err;
    char det[4096], marks[4096];
    path_of(det, sizeof det, "models/face_detector/face_detector.flb");
    path_of(marks, sizeof marks, "models/landmarks/landmarks.flb");
    fl_analyzer_options_init(&o);
    o.accelerator = FL_ACCELERATOR_CPU;
    CHECK_STATUS(fl_bundle_open(det, NULL, &detector, &err), FL_OK, &err, NULL);
    o.bundles[FL_STAGE_DETECTOR] = detector;
    o.bundle_paths[FL_STAGE_LANDMARKS] = marks;
    fl_status st = fl_analyzer_create(&o, &a, &err);
    fl_bundle_destroy(detector); /* the analyzer holds its own reference */
    CHECK_STATUS(st, FL_OK, &err, NULL);
    if (st != FL_OK) return;
    CHECK(strcmp(fl_analyzer_stage(a, FL_STAGE_DETECTOR), "bundle:face_detector") == 0, "detector stage");
    CHECK(strcmp(fl_analyzer_stage(a, FL_STAGE_EXPRESSION), "skipped (no bundle)") == 0, "expression skipped");
    for (int s = FL_STAGE_SKIN_METRICS; s < FL_STAGE_COUNT; s++) /* as FaceAnalyzer without a skin_metrics bundle */
        CHECK(strcmp(fl_analyzer_stage(a, (fl_stage)s), "skipped (no bundle)") == 0, "skin stage %d skipped", s);
    CHECK(fl_analyzer_model(a, FL_STAGE_ACNE) == NULL, "no acne model");
    CHECK(fl_model_get_info(fl_analyzer_model(a, FL_STAGE_LANDMARKS))->accelerator == FL_ACCELERATOR_CPU, "cpu");

    uint8_t grey[48][64];
    memset(grey, 128, sizeof grey);
    fl_image image = {&grey[0][0], 64, 48, 64, FL_PIXELS_GRAY};
    const fl_result *r = NULL;
    CHECK_STATUS(fl_analyze(a, &image, &r, &err), FL_OK, &err, NULL);
    CHECK(r && fl_result_face_count(r) == 0 && fl_result_image_width(r) == 64 && fl_result_image_height(r) == 48,
          "a flat grey image has no face");
    CHECK(r && strcmp(fl_result_stage(r, FL_STAGE_ACNE), "skipped (no bundle)") == 0, "result stages");
    CHECK(fl_result_box(r, 0) == NULL && fl_result_expression(r, 0) == NULL && fl_result_skin(r, 0) == NULL,
          "per-face accessors past the end are NULL");
    fl_analyzer_destroy(a);
}

static void test_whole_pipeline(void)
{
    fl_analyzer_options o;
    fl_analyzer *a = NULL;
    fl_error err;
    char models[4096], photo[4096];
    path_of(models, sizeof models, "models");
    fl_analyzer_options_init(&o);
    o.bundles_dir = models;
    o.accelerator = FL_ACCELERATOR_CPU;
    o.variant = "fp32";
    fl_status st = fl_analyzer_create(&o, &a, &err);
    CHECK_STATUS(st, FL_OK, &err, NULL);
    if (st != FL_OK) return;
    for (int s = 0; s <= FL_STAGE_SKIN_METRICS; s++)
        CHECK(strncmp(fl_analyzer_stage(a, (fl_stage)s), "bundle:", 7) == 0, "stage %d runs a bundle", s);
    const int acne_runs = strncmp(fl_analyzer_stage(a, FL_STAGE_ACNE), "bundle:", 7) == 0;
    CHECK(acne_runs || strncmp(fl_analyzer_stage(a, FL_STAGE_ACNE), "skipped (acne bundle grades whole photos", 40) == 0,
          "acne: a bundle for face crops, or the v1 bundle skipped");
    CHECK(strcmp(fl_analyzer_stage(a, FL_STAGE_RESTORATION), "off") == 0, "restoration off by default");
    CHECK(fl_analyzer_model_info(a, FL_STAGE_SKIN_METRICS) != NULL, "skin_metrics engine info");

    /* Any size from 1x1 up, strips included, and every pixel format: no face, no error. */
    static uint8_t pixels[4 * 1 * 3000];
    memset(pixels, 200, sizeof pixels);
    const int sizes[][2] = {{1, 1}, {3000, 1}, {1, 3000}, {7, 5}};
    const fl_pixel_format formats[] = {FL_PIXELS_GRAY, FL_PIXELS_RGB, FL_PIXELS_BGR, FL_PIXELS_RGBA, FL_PIXELS_BGRA};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
            int ch = fl_pixel_format_channels(formats[f]);
            fl_image image = {pixels, sizes[s][0], sizes[s][1], (size_t)sizes[s][0] * (size_t)ch, formats[f]};
            const fl_result *r = NULL;
            st = fl_analyze(a, &image, &r, &err);
            CHECK_STATUS(st, FL_OK, &err, NULL);
            CHECK(r && fl_result_face_count(r) == 0, "%dx%d %s: %zu faces", sizes[s][0], sizes[s][1],
                  fl_pixel_format_name(formats[f]), fl_result_face_count(r));
        }
    }
    fl_image bad = {pixels, 10, 10, 5, FL_PIXELS_RGB};
    const fl_result *r = (const fl_result *)1;
    CHECK_STATUS(fl_analyze(a, &bad, &r, &err), FL_ERR_INVALID_ARGUMENT, &err, "stride");
    CHECK(r == NULL, "no result after an error");
    CHECK_STATUS(fl_analyze_file(a, "/nonexistent.jpg", &r, &err), FL_ERR_IO, &err, "/nonexistent.jpg");

    /* A real photo when the shared data is beside the checkout: faces, reused buffers. */
    snprintf(photo, sizeof photo, "%s/../shared/data/acne04/level0/level0_1.jpg", root);
    FILE *probe = fopen(photo, "rb");
    if (probe == NULL) {
        printf("test_analyzer: %s not found, real-photo checks skipped\n", photo);
        fl_analyzer_destroy(a);
        return;
    }
    fclose(probe);
    const fl_result *first = NULL;
    CHECK_STATUS(fl_analyze_file(a, photo, &first, &err), FL_OK, &err, NULL);
    size_t faces = fl_result_face_count(first);
    CHECK(faces >= 1, "%s: no face found", photo);
    if (faces < 1) {
        fl_analyzer_destroy(a);
        return;
    }
    fl_box box0 = *fl_result_box(first, 0);
    float marks0[2 * FL_LANDMARK_COUNT];
    memcpy(marks0, fl_result_landmarks(first, 0), sizeof marks0);
    const fl_classification *e = fl_result_expression(first, 0), *acne = fl_result_acne(first, 0);
    size_t best = 0;
    for (size_t k = 1; e != NULL && k < e->count; k++)
        if (e->scores[k] > e->scores[best]) best = k;
    int top_ok = e != NULL && e->count == 7 && e->label == e->labels[best] && e->score == e->scores[best];
    CHECK(top_ok, "expression: 7 labels, the top one of highest score");
    CHECK(acne_runs ? acne && acne->count == 3 : acne == NULL, "acne labels when the acne stage runs");
    const fl_skin_report *skin = fl_result_skin(first, 0);
    int scores_ok = skin != NULL;
    for (int c = 0; skin && c < FL_CONCERN_COUNT; c++) {
        const fl_concern_score *f = &skin->face[c];
        scores_ok &= c == FL_CONCERN_ACNE ? f->measured == acne_runs : f->measured;
        scores_ok &= !f->measured || (f->score >= 0 && f->score <= 100 && isfinite(f->raw));
    }
    int hidden_cheeks = 0; /* the far cheek of a turned head is left out (regions.hidden_cheeks) */
    for (size_t k = 0; skin && k < FL_REGION_COUNT; k++) {
        const int cheek = k == 2 || k == 3;
        hidden_cheeks += cheek && !skin->region_measured[k];
        scores_ok &= skin->region_measured[k] || cheek;
    }
    CHECK(scores_ok && hidden_cheeks <= 1 && skin->check_count == FL_SKIN_CHECK_MAX && skin->has_tone &&
              skin->tone != NULL && skin->model_count == 1u + (unsigned)acne_runs &&
              strcmp(skin->model_names[0], "skin_metrics") == 0,
          "skin: every concern scored 0-100 on the face and every region (at most one cheek hidden), 12 checks, "
          "a tone, the models");
    size_t n;
    const float *cheek = fl_result_region(first, 0, "left_cheek", &n);
    const float *right = fl_result_region(first, 0, "right_cheek", NULL);
    CHECK(cheek && n == 10 && right && fl_result_region(first, 0, "ear", NULL) == NULL, "regions by name");
    if (cheek && right) CHECK(cheek[0] > right[0], "the subject's left cheek is on the image right");
    const fl_timings *t = fl_result_timings(first);
    CHECK(t->load_ms > 0 && t->detect_ms > 0 && fabs(t->total_ms - (t->load_ms + t->detect_ms + t->landmarks_ms +
                                                                      t->align_regions_ms + t->expression_ms +
                                                                      t->skin_ms)) < 1e-9 &&
              t->skin_measures_ms > 0 && isnan(t->restoration_ms) && isnan(t->acne_ms) != acne_runs,
          "timings");

    /* The JSON document: snprintf-like sizes. */
    size_t len = fl_result_json(first, FL_JSON_ROUNDED, NULL, 0);
    char small[16];
    CHECK(len > 100 && fl_result_json(first, FL_JSON_ROUNDED, small, sizeof small) == len && strlen(small) == 15,
          "json length %zu", len);
    char *doc = malloc(len + 1);
    if (doc) {
        fl_result_json(first, FL_JSON_ROUNDED, doc, len + 1);
        const char *head = "{\"image_size\":[512,512],\"detector\":\"bundle:face_detector\"";
        CHECK(strncmp(doc, head, strlen(head)) == 0 &&
                  strstr(doc, "\"skin\":{\"reliable\":") != NULL && strstr(doc, "\"region_redness\"") == NULL,
              "json: %.120s", doc);
        free(doc);
    }

    /* Another image, then the first again: the same answer from the reused buffers. */
    fl_image blank = {pixels, 7, 5, 21, FL_PIXELS_RGB};
    CHECK_STATUS(fl_analyze(a, &blank, &r, &err), FL_OK, &err, NULL);
    const fl_result *again = NULL;
    CHECK_STATUS(fl_analyze_file(a, photo, &again, &err), FL_OK, &err, NULL);
    CHECK(fl_result_face_count(again) == faces && memcmp(fl_result_box(again, 0), &box0, sizeof box0) == 0 &&
              memcmp(fl_result_landmarks(again, 0), marks0, sizeof marks0) == 0,
          "the same photo gives the same faces");
    fl_analyzer_destroy(a);
}

int main(int argc, char **argv)
{
    root = argc > 1 ? argv[1] : repo_root();
    test_heatmap_decoding();
    test_nms();
    test_box_helpers();
    test_eye_similarity();
    test_creation_errors();
    test_skipped_stages_and_given_bundles();
    test_whole_pipeline();
    return check_done("test_analyzer");
}
