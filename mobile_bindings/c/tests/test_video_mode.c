/* test_video_mode.c: VIDEO mode's contract (facelite/analyzer.h, docs/video.md).
 *
 * Parity with Python on clips is tests/mobile_bindings/test_video_parity.py; here: the
 * options' checks, each running mode refusing the other's call, timestamps that must
 * increase (a refused frame leaves the clip going), `fl_analyzer_reset` starting a new
 * clip, and the JSON keys of a frame, over the shipped bundles (models/) and, when the
 * shared data is beside the checkout, a real photo as a still clip. Takes [REPO_ROOT] or
 * $FACELITE_REPO. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "facelite/analyzer.h"

static const char *root;

static fl_status create(fl_running_mode mode, int every, fl_analyzer **a, fl_error *err)
{
    char models[4096];
    fl_analyzer_options o;
    snprintf(models, sizeof models, "%s/models", root);
    fl_analyzer_options_init(&o);
    o.bundles_dir = models;
    o.accelerator = FL_ACCELERATOR_CPU;
    o.variant = "fp32";
    o.skin = 0;
    o.running_mode = mode;
    o.detect_every_n_frames = every;
    return fl_analyzer_create(&o, a, err);
}

static void test_options(void)
{
    fl_analyzer_options o;
    fl_analyzer *a = NULL;
    fl_error err;
    fl_analyzer_options_init(&o);
    CHECK(o.running_mode == FL_RUNNING_MODE_IMAGE && o.detect_every_n_frames == 15 &&
              o.expression_every_n_frames == 1 && o.skin_every_n_frames == 10 && o.smoothing == 1,
          "FaceAnalyzerOptions' defaults");
    CHECK_STATUS(create(FL_RUNNING_MODE_VIDEO, 0, &a, &err), FL_ERR_INVALID_ARGUMENT, &err,
                 "detect_every_n_frames 0: must be a whole number >= 1");
    CHECK_STATUS(create((fl_running_mode)7, 15, &a, &err), FL_ERR_INVALID_ARGUMENT, &err, "running_mode 7");
    CHECK(a == NULL, "no analyzer after an error");
}

static void test_modes_and_timestamps(void)
{
    fl_analyzer *image_mode = NULL, *video = NULL;
    fl_error err;
    static uint8_t grey[64 * 48 * 3];
    memset(grey, 127, sizeof grey);
    fl_image frame = {grey, 64, 48, 64 * 3, FL_PIXELS_BGR};
    const fl_result *r = NULL;
    if (create(FL_RUNNING_MODE_IMAGE, 15, &image_mode, &err) != FL_OK ||
        create(FL_RUNNING_MODE_VIDEO, 15, &video, &err) != FL_OK) {
        CHECK(0, "analyzers over %s/models: %s", root, err.message);
        goto done;
    }
    CHECK_STATUS(fl_analyze_video_frame(image_mode, &frame, 0, &r, &err), FL_ERR_INVALID_ARGUMENT, &err,
                 "this analyzer runs in IMAGE mode");
    CHECK_STATUS(fl_analyze(video, &frame, &r, &err), FL_ERR_INVALID_ARGUMENT, &err,
                 "fl_analyze: this analyzer runs in VIDEO mode");
    CHECK_STATUS(fl_analyze_file(video, "x.jpg", &r, &err), FL_ERR_INVALID_ARGUMENT, &err, "runs in VIDEO mode");

    CHECK_STATUS(fl_analyze_video_frame(video, &frame, 100, &r, &err), FL_OK, &err, NULL);
    int64_t ms = -1;
    CHECK(r && fl_result_timestamp_ms(r, &ms) && ms == 100 && fl_result_face_count(r) == 0 &&
              fl_result_detections(r) == 1,
          "a frame without faces: timestamp %lld, detector ran", (long long)ms);
    CHECK_STATUS(fl_analyze_video_frame(video, &frame, 100, &r, &err), FL_ERR_INVALID_ARGUMENT, &err,
                 "timestamp_ms 100: must be greater than the previous frame's 100");
    CHECK(r == NULL, "no result for a refused frame");
    CHECK_STATUS(fl_analyze_video_frame(video, &frame, 101, &r, &err), FL_OK, &err, NULL);
    fl_analyzer_reset(video);
    CHECK_STATUS(fl_analyze_video_frame(video, &frame, 0, &r, &err), FL_OK, &err, NULL);
    CHECK(fl_result_track_id(r, 0) == -1, "no face, no track id");
done:
    fl_analyzer_destroy(image_mode);
    fl_analyzer_destroy(video);
}

/* A real photo as a still clip: one track, id 0 every frame, the detector on frames 0 and 3
 * (every 3), id 0 again after a reset; the JSON has the VIDEO keys. */
static void test_a_still_clip(void)
{
    char photo[4096];
    fl_analyzer *a = NULL;
    fl_error err;
    snprintf(photo, sizeof photo, "%s/../shared/data/acne04/level0/level0_1.jpg", root);
    FILE *probe = fopen(photo, "rb");
    if (probe == NULL) {
        printf("test_video_mode: %s not found, real-photo checks skipped\n", photo);
        return;
    }
    fclose(probe);
    if (create(FL_RUNNING_MODE_VIDEO, 3, &a, &err) != FL_OK) {
        CHECK(0, "analyzer: %s", err.message);
        return;
    }
    const fl_result *r = NULL;
    int ran[5];
    for (int i = 0; i < 5; i++) {
        CHECK_STATUS(fl_analyze_video_frame_file(a, photo, 33 * i, &r, &err), FL_OK, &err, NULL);
        CHECK(r && fl_result_face_count(r) >= 1 && fl_result_track_id(r, 0) == 0, "frame %d: track 0", i);
        ran[i] = r ? fl_result_detections(r) : -1;
    }
    CHECK(ran[0] == 1 && ran[1] == 0 && ran[2] == 0 && ran[3] == 1 && ran[4] == 0, "detector on frames 0 and 3");
    char json[1 << 16];
    size_t n = r ? fl_result_json(r, FL_JSON_ROUNDED, json, sizeof json) : 0;
    CHECK(n > 0 && n < sizeof json && strncmp(json, "{\"timestamp_ms\":132,", 20) == 0 &&
              strstr(json, "\"faces\":[{\"track_id\":0,\"box\":") != NULL && strstr(json, "\"smoothing\":") != NULL,
          "the frame's JSON: %.120s", json);
    fl_analyzer_reset(a);
    CHECK_STATUS(fl_analyze_video_frame_file(a, photo, 0, &r, &err), FL_OK, &err, NULL);
    CHECK(r && fl_result_track_id(r, 0) == 0 && fl_result_detections(r) == 1, "a new clip: track 0 again");
    fl_analyzer_destroy(a);
}

int main(int argc, char **argv)
{
    root = argc > 1 ? argv[1] : repo_root();
    test_options();
    test_modes_and_timestamps();
    test_a_still_clip();
    return check_done("test_video_mode");
}
