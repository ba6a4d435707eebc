/* tool_tracking.c: the C tracker (tracking.h) driven line by line from stdin, its model
 * calls answered by the caller (tests/mobile_bindings/test_video_parity.py runs the same
 * scripted detector and landmarker for `facelite.tracking.FaceTracker` and for this tool,
 * so both trackers see the same answers to the same questions). Not a ctest case.
 *
 *   tool_tracking MAX_FACES DETECT_EVERY_N_FRAMES
 *   tool_tracking constants   (the FL_TRACK_* constants as JSON, Python's names)
 *   tool_tracking appearance  (per input line "H W C origin_x origin_y step_x step_y", then
 *                              H*W*C pixel values, then 136 point coordinates: the
 *                              fl_track_appearance thumbnail, or "none")
 *
 * In:  "frame W H" (step one W x H frame) or "reset".
 * Out, during a step: "detect" -> the caller answers "N x y w h score ex ey ew eh ..." (N
 *      detections, best first: box, score, landmark extent); "landmarks N x y w h ..." (N
 *      crops) -> the caller answers N x 136 numbers (each crop's 68 points, x0 y0 ...), then
 *      a line of N x (1 + FL_TRACK_APPEARANCE_SIZE) integers (per crop: 1 and its appearance
 *      thumbnail, or 0 and as many ignored values).
 * Out, after a step: "step DETECTIONS_RUN K" then, per track in ascending id, "id started
 *      frames_tracked score crop_x crop_y crop_w crop_h appearance_change". Numbers with 17
 *      significant digits.
 * Exit 0 at the end of input, 2 for a usage or protocol error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracking.h"

static char *line = NULL;
static size_t line_cap = 0;

/* The next input line's numbers into `values` (at most `cap`); how many, or -1 at EOF. */
static long read_numbers(double *values, size_t cap)
{
    if (getline(&line, &line_cap, stdin) < 0) return -1;
    long n = 0;
    char *p = line, *end;
    while ((size_t)n < cap) {
        double v = strtod(p, &end);
        if (end == p) break;
        values[n++] = v;
        p = end;
    }
    return n;
}

static fl_status detect(void *context, fl_box *boxes, double (*extents)[4], size_t *count, fl_error *err)
{
    fl_tracker *t = context;
    double v[1 + 9 * 1024];
    printf("detect\n");
    fflush(stdout);
    long n = read_numbers(v, sizeof v / sizeof v[0]);
    if (n < 1 || v[0] < 0 || (size_t)v[0] > t->max_faces || n != 1 + 9 * (long)v[0]) {
        snprintf(err->message, sizeof err->message, "bad detections line");
        return err->code = FL_ERR_INVALID_ARGUMENT;
    }
    *count = (size_t)v[0];
    for (size_t i = 0; i < *count; i++) {
        const double *d = v + 1 + 9 * i;
        fl_box b = {d[0], d[1], d[2], d[3], d[4]};
        boxes[i] = b;
        memcpy(extents[i], d + 5, 4 * sizeof(double));
    }
    return FL_OK;
}

static fl_status landmarks(void *context, const double (*extents)[4], size_t count, float *points,
                           int64_t *thumbnails, unsigned char *has_thumbnail, fl_error *err)
{
    (void)context;
    static double v[136 * 1024];
    printf("landmarks %zu", count);
    for (size_t i = 0; i < count; i++)
        for (int k = 0; k < 4; k++) printf(" %.17g", extents[i][k]);
    printf("\n");
    fflush(stdout);
    long n = read_numbers(v, sizeof v / sizeof v[0]);
    if (n != 136 * (long)count) {
        snprintf(err->message, sizeof err->message, "bad points line: %ld numbers for %zu crops", n, count);
        return err->code = FL_ERR_INVALID_ARGUMENT;
    }
    for (long i = 0; i < n; i++) points[i] = (float)v[i];
    const long per = 1 + FL_TRACK_APPEARANCE_SIZE;
    n = read_numbers(v, sizeof v / sizeof v[0]);
    if (n != per * (long)count) {
        snprintf(err->message, sizeof err->message, "bad thumbnails line: %ld numbers for %zu crops", n, count);
        return err->code = FL_ERR_INVALID_ARGUMENT;
    }
    for (size_t i = 0; i < count; i++) {
        has_thumbnail[i] = v[i * per] != 0.0;
        for (long k = 0; k < FL_TRACK_APPEARANCE_SIZE; k++)
            thumbnails[i * FL_TRACK_APPEARANCE_SIZE + k] = (int64_t)v[i * per + 1 + k];
    }
    return FL_OK;
}

int main(int argc, char **argv)
{
    fl_tracker t;
    fl_error err;
    if (argc == 2 && strcmp(argv[1], "constants") == 0) {
        printf("{\"TRACK_MATCH_IOU\": %.17g, \"TRACK_KEEP_IOU\": %.17g, \"MIN_INSIDE_FRACTION\": %.17g, "
               "\"APPEARANCE_CELLS\": %d, \"TRACK_APPEARANCE_CHANGE\": %.17g}\n",
               FL_TRACK_MATCH_IOU, FL_TRACK_KEEP_IOU, FL_TRACK_MIN_INSIDE_FRACTION, FL_TRACK_APPEARANCE_CELLS,
               FL_TRACK_APPEARANCE_CHANGE);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "appearance") == 0) {
        static double v[3 * 512 * 512 + 7 + 136];
        static uint8_t pixels[3 * 512 * 512];
        long n;
        while ((n = read_numbers(v, sizeof v / sizeof v[0])) > 0) {
            const int h = (int)v[0], w = (int)v[1], c = (int)v[2];
            const long count = (long)h * w * c;
            if (h < 1 || w < 1 || c < 1 || count > 3 * 512 * 512 || n != 7 + count + 136) {
                fprintf(stderr, "error: bad appearance line (%ld numbers)\n", n);
                return 2;
            }
            fl_placement where = {v[3], v[4], v[5], v[6]};
            for (long k = 0; k < count; k++) pixels[k] = (uint8_t)v[7 + k];
            int64_t out[FL_TRACK_APPEARANCE_SIZE];
            if (!fl_track_appearance(pixels, h, w, c, &where, v + 7 + count, out)) {
                printf("none\n");
                continue;
            }
            for (int k = 0; k < FL_TRACK_APPEARANCE_SIZE; k++) printf(k ? " %lld" : "%lld", (long long)out[k]);
            printf("\n");
        }
        free(line);
        return 0;
    }
    if (argc != 3 || atoi(argv[1]) < 1 || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: tool_tracking MAX_FACES DETECT_EVERY_N_FRAMES (protocol on stdin)\n");
        return 2;
    }
    if (fl_tracker_create(&t, (size_t)atoi(argv[1]), atoi(argv[2]), 0, 0, &err) != FL_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 2;
    }
    int rc = 0;
    while (rc == 0 && getline(&line, &line_cap, stdin) >= 0) {
        int w, h;
        if (strncmp(line, "reset", 5) == 0) {
            fl_tracker_reset(&t);
        } else if (sscanf(line, "frame %d %d", &w, &h) == 2) {
            if (fl_tracker_step(&t, w, h, detect, landmarks, &t, &err) != FL_OK) {
                fprintf(stderr, "error: %s\n", err.message);
                rc = 2;
                break;
            }
            printf("step %ld %zu\n", t.detections_run, t.count);
            for (size_t k = 0; k < t.count; k++) {
                const fl_track *tr = t.tracks[k];
                printf("%d %d %ld %.17g %.17g %.17g %.17g %.17g %.17g\n", tr->id, tr->started, tr->frames_tracked,
                       tr->score, tr->crop[0], tr->crop[1], tr->crop[2], tr->crop[3], tr->appearance_change);
            }
            fflush(stdout);
        } else {
            fprintf(stderr, "error: expected 'frame W H' or 'reset', got %s", line);
            rc = 2;
        }
    }
    fl_tracker_release(&t);
    free(line);
    return rc;
}
