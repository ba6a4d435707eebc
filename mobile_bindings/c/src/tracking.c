/* tracking.c: the tracks of one clip (tracking.h), `facelite.tracking` step for step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detection.h"
#include "status.h"
#include "tracking.h"

void fl_points_extent(const double p[2 * FL_LANDMARK_COUNT], double out[4])
{
    double x0 = p[0], y0 = p[1], x1 = p[0], y1 = p[1];
    for (int k = 1; k < FL_LANDMARK_COUNT; k++) { /* numpy's min/max over finite points */
        const double x = p[2 * k], y = p[2 * k + 1];
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
    }
    out[0] = x0, out[1] = y0, out[2] = x1 - x0, out[3] = y1 - y0;
}

static fl_box as_box(const double e[4])
{
    fl_box b = {e[0], e[1], e[2], e[3], 1.0};
    return b;
}

/* `tracking.box_iou`. */
static double box_iou(const double a[4], const double b[4])
{
    fl_box ba = as_box(a), bb = as_box(b);
    return fl_box_iou(&ba, &bb);
}

/* `tracking.inside_fraction`: the fraction of the box's area inside the image. */
static double inside_fraction(const double box[4], int width, int height)
{
    if (!(box[2] > 0.0) || !(box[3] > 0.0)) return 0.0;
    fl_box clipped = fl_box_clipped(as_box(box), width, height);
    return (clipped.w * clipped.h) / (box[2] * box[3]);
}

/* `tracking.is_lost`, or its appearance changed (`FaceTracker.step`'s loss test). */
static int is_lost(const fl_track *track, int width, int height)
{
    double found[4];
    fl_points_extent(track->points, found);
    return box_iou(track->crop, found) < FL_TRACK_KEEP_IOU ||
           inside_fraction(found, width, height) < FL_TRACK_MIN_INSIDE_FRACTION ||
           track->appearance_change > FL_TRACK_APPEARANCE_CHANGE;
}

int fl_track_appearance(const uint8_t *pixels, int height, int width, int channels, const fl_placement *where,
                        const double points[2 * FL_LANDMARK_COUNT], int64_t out[FL_TRACK_APPEARANCE_SIZE])
{
    double e[4];
    fl_points_extent(points, e);
    double x = (e[0] - where->origin_x) / where->step_x, y = (e[1] - where->origin_y) / where->step_y;
    const double x1 = fmin(x + e[2] / where->step_x, (double)width), y1 = fmin(y + e[3] / where->step_y, (double)height);
    x = fmax(x, 0.0), y = fmax(y, 0.0);
    const double w = x1 - x, h = y1 - y;
    const int n = FL_TRACK_APPEARANCE_CELLS;
    if (!(w >= n && h >= n)) return 0;
    const int bh = (int)floor(h / n), bw = (int)floor(w / n);
    for (int i = 0; i < n; i++) {
        const int y0 = (int)floor(y + i * h / n);
        for (int j = 0; j < n; j++) {
            const int x0 = (int)floor(x + j * w / n);
            int64_t sum = 0;
            for (int r = y0; r < y0 + bh; r++) {
                const uint8_t *row = pixels + ((size_t)r * (size_t)width + (size_t)x0) * (size_t)channels;
                for (int k = 0; k < bw * channels; k++) sum += row[k];
            }
            out[i * n + j] = sum;
        }
    }
    return 1;
}

double fl_track_appearance_change(const int64_t previous[FL_TRACK_APPEARANCE_SIZE],
                                  const int64_t current[FL_TRACK_APPEARANCE_SIZE])
{
    /* n times each cell's deviation from the mean, exact: for a 112-pixel input a cell is at
     * most 11*11*3*255, and every sum below stays far inside int64. */
    const int64_t n = FL_TRACK_APPEARANCE_SIZE;
    int64_t sum_before = 0, sum_after = 0, var_before = 0, var_after = 0, covariance = 0;
    for (int64_t k = 0; k < n; k++) sum_before += previous[k], sum_after += current[k];
    for (int64_t k = 0; k < n; k++) {
        const int64_t b = n * previous[k] - sum_before, a = n * current[k] - sum_after;
        var_before += b * b, var_after += a * a, covariance += b * a;
    }
    if (var_before == 0 || var_after == 0) return 1.0;
    return 1.0 - (double)covariance / sqrt((double)var_before * (double)var_after);
}

int fl_track_due(const fl_track *track, int every)
{
    return track->frames_tracked % every == 0;
}

fl_status fl_tracker_create(fl_tracker *t, size_t max_faces, int detect_every_n_frames, size_t expression_labels,
                            size_t acne_labels, fl_error *err)
{
    memset(t, 0, sizeof *t);
    t->detect_every_n_frames = detect_every_n_frames;
    t->max_faces = max_faces;
    t->expression_labels = expression_labels;
    t->acne_labels = acne_labels;
    t->pool = calloc(max_faces, sizeof *t->pool);
    t->free = calloc(max_faces, sizeof *t->free);
    t->tracks = calloc(max_faces, sizeof *t->tracks);
    t->boxes = calloc(max_faces, sizeof *t->boxes);
    t->extents = calloc(max_faces, sizeof *t->extents);
    t->holder = calloc(max_faces, sizeof *t->holder);
    t->ious = calloc(max_faces * max_faces, sizeof *t->ious);
    t->todo = calloc(max_faces, sizeof *t->todo);
    t->crops = calloc(max_faces, sizeof *t->crops);
    t->points = calloc(max_faces * 2 * FL_LANDMARK_COUNT, sizeof *t->points);
    t->thumbnails = calloc(max_faces * FL_TRACK_APPEARANCE_SIZE, sizeof *t->thumbnails);
    t->has_thumbnail = calloc(max_faces, sizeof *t->has_thumbnail);
    t->order = calloc(max_faces, sizeof *t->order);
    t->flags = calloc(4 * max_faces, 1);
    int ok = t->pool && t->free && t->tracks && t->boxes && t->extents && t->holder && t->ious && t->todo &&
             t->crops && t->points && t->thumbnails && t->has_thumbnail && t->order && t->flags;
    if (ok) {
        t->claimed = t->flags, t->keep = t->flags + max_faces;
        t->track_free = t->flags + 2 * max_faces, t->det_free = t->flags + 3 * max_faces;
    }
    for (size_t i = 0; ok && i < max_faces; i++) {
        fl_track *track = &t->pool[i];
        track->score_filters = calloc(expression_labels ? expression_labels : 1, sizeof *track->score_filters);
        track->expression = calloc(expression_labels ? expression_labels : 1, sizeof *track->expression);
        track->acne_scores = calloc(acne_labels ? acne_labels : 1, sizeof *track->acne_scores);
        ok = track->score_filters && track->expression && track->acne_scores;
    }
    if (!ok) return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for the tracks of %zu faces", max_faces);
    fl_tracker_reset(t);
    return FL_OK;
}

void fl_tracker_release(fl_tracker *t)
{
    for (size_t i = 0; t->pool != NULL && i < t->max_faces; i++) {
        free(t->pool[i].score_filters);
        free(t->pool[i].expression);
        free(t->pool[i].acne_scores);
    }
    free(t->pool);
    free(t->free);
    free(t->tracks);
    free(t->boxes);
    free(t->extents);
    free(t->holder);
    free(t->ious);
    free(t->todo);
    free(t->crops);
    free(t->points);
    free(t->thumbnails);
    free(t->has_thumbnail);
    free(t->order);
    free(t->flags);
    memset(t, 0, sizeof *t);
}

void fl_tracker_reset(fl_tracker *t)
{
    t->count = 0;
    t->free_count = t->max_faces;
    for (size_t i = 0; i < t->max_faces; i++) t->free[i] = &t->pool[t->max_faces - 1 - i];
    t->frame = 0;
    t->detections_run = 0;
    t->last_detection = -1;
    t->next_id = 0;
    t->detection_count = 0;
    t->detected = 0;
}

/* A new track (`tracking.Track(...)`) from a free slot, state fresh. */
static fl_track *new_track(fl_tracker *t, int id, double score, const double crop[4])
{
    fl_track *track = t->free[--t->free_count];
    track->id = id;
    track->score = score;
    memset(track->points, 0, sizeof track->points);
    memcpy(track->crop, crop, sizeof track->crop);
    track->started = 1;
    track->frames_tracked = 0;
    track->crop_frame = -1;
    track->has_appearance = 0;
    track->appearance_change = 0.0;
    fl_point_smoother_init(&track->smoother);
    fl_one_euro_init(track->score_filters, t->expression_labels, FL_SCORE_MIN_CUTOFF, FL_SCORE_BETA,
                     FL_SCORE_D_CUTOFF);
    track->has_expression = track->has_skin = track->has_acne = 0;
    track->expression_top = 0;
    return track;
}

/* Keep the live tracks for which `keep[k]` (in order), returning the others to the pool. */
static void keep_tracks(fl_tracker *t, const unsigned char *keep)
{
    size_t kept = 0;
    for (size_t k = 0; k < t->count; k++) {
        if (keep[k])
            t->tracks[kept++] = t->tracks[k];
        else
            t->free[t->free_count++] = t->tracks[k];
    }
    t->count = kept;
}

static fl_status run_detection(fl_tracker *t, fl_track_detect_fn detect, void *context, fl_error *err)
{
    t->detections_run++;
    t->last_detection = t->frame;
    t->detected = 1;
    t->detection_count = 0;
    return detect(context, t->boxes, t->extents, &t->detection_count, err);
}

/* `_start_tracks`: new tracks from the unclaimed detections, best score first (ties:
 * detector order), while fewer than max_faces tracks are live. */
static void start_tracks(fl_tracker *t, unsigned char *claimed)
{
    size_t *order = t->order, n = 0;
    for (size_t j = 0; j < t->detection_count; j++) {
        if (claimed[j]) continue;
        size_t at = n++; /* a stable insertion by descending score */
        while (at > 0 && t->boxes[order[at - 1]].score < t->boxes[j].score) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = j;
    }
    size_t room = t->max_faces > t->count ? t->max_faces - t->count : 0;
    for (size_t k = 0; k < n && k < room; k++) {
        size_t j = order[k];
        t->tracks[t->count++] = new_track(t, t->next_id, t->boxes[j].score, t->extents[j]);
        t->holder[j] = t->next_id;
        claimed[j] = 1;
        t->next_id++;
    }
}

/* `tracking.match` then `_apply_detections`: matched tracks keep their id and crop and
 * take the detection's score; unmatched tracks are dropped; unmatched detections start
 * tracks. `claimed[j]`: detection j is now held by a track. */
static void apply_detections(fl_tracker *t, unsigned char *claimed)
{
    const size_t nt = t->count, nd = t->detection_count;
    unsigned char *track_free = t->track_free, *det_free = t->det_free, *keep = t->keep;
    for (size_t i = 0; i < nt; i++) {
        double extent[4];
        fl_points_extent(t->tracks[i]->points, extent);
        for (size_t j = 0; j < nd; j++) t->ious[i * nd + j] = box_iou(extent, t->extents[j]);
        track_free[i] = 1, keep[i] = 0;
    }
    for (size_t j = 0; j < nd; j++) det_free[j] = 1, claimed[j] = 0, t->holder[j] = -1;
    for (;;) {
        double best = FL_TRACK_MATCH_IOU;
        int found = 0;
        size_t bi = 0, bj = 0;
        for (size_t i = 0; i < nt; i++) {
            if (!track_free[i]) continue;
            for (size_t j = 0; j < nd; j++) {
                const double s = t->ious[i * nd + j];
                if (det_free[j] && s >= best && (!found || s > best)) best = s, bi = i, bj = j, found = 1;
            }
        }
        if (!found) break;
        track_free[bi] = 0, det_free[bj] = 0;
        t->tracks[bi]->score = t->boxes[bj].score;
        t->holder[bj] = t->tracks[bi]->id;
        claimed[bj] = 1;
        keep[bi] = 1;
    }
    keep_tracks(t, keep); /* the kept ones stay in ascending id */
    start_tracks(t, claimed);
}

/* `_find_points`: landmarks for every track without points on this frame, in one batch: a
 * new track in its detection's extent, an older one in its last points' extent; with each
 * face's thumbnail and its change since the last frame. */
static fl_status find_points(fl_tracker *t, fl_track_landmarks_fn landmarks, void *context, fl_error *err)
{
    size_t n = 0;
    for (size_t k = 0; k < t->count; k++) {
        fl_track *track = t->tracks[k];
        if (track->crop_frame == t->frame) continue;
        if (!track->started) fl_points_extent(track->points, track->crop);
        track->crop_frame = t->frame;
        memcpy(t->crops[n], track->crop, sizeof t->crops[n]);
        t->todo[n++] = track;
    }
    if (n == 0) return FL_OK;
    memset(t->has_thumbnail, 0, n);
    fl_status st = landmarks(context, (const double(*)[4])t->crops, n, t->points, t->thumbnails, t->has_thumbnail,
                             err);
    if (st != FL_OK) return st;
    for (size_t i = 0; i < n; i++) {
        fl_track *track = t->todo[i];
        const int64_t *thumbnail = t->thumbnails + i * FL_TRACK_APPEARANCE_SIZE;
        for (int c = 0; c < 2 * FL_LANDMARK_COUNT; c++)
            track->points[c] = (double)t->points[i * 2 * FL_LANDMARK_COUNT + c];
        const int known = !track->started && track->has_appearance && t->has_thumbnail[i];
        track->appearance_change = known ? fl_track_appearance_change(track->appearance, thumbnail) : 0.0;
        track->has_appearance = t->has_thumbnail[i];
        if (track->has_appearance) memcpy(track->appearance, thumbnail, sizeof track->appearance);
    }
    return FL_OK;
}

fl_status fl_tracker_step(fl_tracker *t, int width, int height, fl_track_detect_fn detect,
                          fl_track_landmarks_fn landmarks, void *context, fl_error *err)
{
    unsigned char *claimed = t->claimed, *keep = t->keep;
    fl_status st = FL_OK;
    for (size_t k = 0; k < t->count; k++) {
        t->tracks[k]->frames_tracked++;
        t->tracks[k]->started = 0;
    }
    t->detected = 0;
    t->detection_count = 0;
    if (t->count == 0 || t->frame - t->last_detection >= t->detect_every_n_frames) {
        if ((st = run_detection(t, detect, context, err)) != FL_OK) return st;
        apply_detections(t, claimed);
    }
    if ((st = find_points(t, landmarks, context, err)) != FL_OK) return st;
    int any_lost = 0;
    for (size_t k = 0; k < t->count; k++) {
        keep[k] = t->tracks[k]->started || !is_lost(t->tracks[k], width, height);
        any_lost |= !keep[k];
    }
    if (any_lost) {
        for (size_t k = 0; k < t->count; k++) /* the detections of lost tracks are free again */
            for (size_t j = 0; !keep[k] && t->detected && j < t->detection_count; j++)
                if (claimed[j] && t->holder[j] == t->tracks[k]->id) claimed[j] = 0;
        keep_tracks(t, keep);
        if (!t->detected) {
            if ((st = run_detection(t, detect, context, err)) != FL_OK) return st;
            apply_detections(t, claimed);
        } else {
            start_tracks(t, claimed);
        }
        if ((st = find_points(t, landmarks, context, err)) != FL_OK) return st;
    }
    t->frame++;
    return FL_OK;
}
