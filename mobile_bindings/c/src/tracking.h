/* tracking.h: face tracking between video frames, `facelite.tracking.FaceTracker` in C (not
 * installed).
 *
 * In VIDEO mode (`fl_analyze_video_frame`) a face found once is followed from frame to
 * frame: the next frame's landmark crop is the extent of the previous frame's raw points,
 * and the detector runs only when there is no track, every `detect_every_n_frames` frames
 * (to find new faces) or when a track is lost. docs/video.md gives the rules step by step;
 * this file follows the Python tracker's code line for line (the same boxes in double, the
 * same greedy matching order, the same loss check), so one clip gives the same track ids,
 * detection frames and points in both (tests/mobile_bindings/test_video_parity.py).
 *
 * Like the Python tracker it runs no model: the analyzer hands it two callbacks, `detect`
 * (the frame's face boxes, best first, with their landmark extents) and `landmarks` (68
 * points in each of a batch of extent boxes). The tracker also keeps what the analyzer
 * carries per track (Python's `Track.state`): the point and score smoothers (one_euro.h)
 * and the last expression and skin results, reported between their runs
 * (`fl_track_due`). Every buffer is allocated by `fl_tracker_create`; a step allocates
 * nothing.
 */
#ifndef FACELITE_SRC_TRACKING_H
#define FACELITE_SRC_TRACKING_H

#include <stddef.h>
#include <stdint.h>

#include "acne.h"
#include "facelite/analyzer.h"
#include "one_euro.h"

/** `tracking.TRACK_MATCH_IOU`: a detection continues a track when the IoU of its landmark
 *  extent and the track's extent is at least this. */
#define FL_TRACK_MATCH_IOU 0.3
/** `tracking.TRACK_KEEP_IOU`: a track is lost when the IoU of its crop and its new points'
 *  extent is below this. */
#define FL_TRACK_KEEP_IOU 0.5
/** `tracking.MIN_INSIDE_FRACTION`: ... or when less than this fraction of that extent lies
 *  inside the image. */
#define FL_TRACK_MIN_INSIDE_FRACTION 0.5
/** `tracking.APPEARANCE_CELLS`: blocks per side of a face's appearance thumbnail. */
#define FL_TRACK_APPEARANCE_CELLS 10
#define FL_TRACK_APPEARANCE_SIZE (FL_TRACK_APPEARANCE_CELLS * FL_TRACK_APPEARANCE_CELLS)
/** `tracking.TRACK_APPEARANCE_CHANGE`: ... or when the crop's appearance changed more than
 *  this since the previous frame (a scene cut, a blank frame, a hand over the face; how it
 *  was chosen: tracking.py). */
#define FL_TRACK_APPEARANCE_CHANGE 0.2

/** One followed face (`tracking.Track`) and what the analyzer keeps for it. */
typedef struct fl_track {
    int id;              /**< from 0 in the order tracks start within a clip */
    double score;        /**< of the detection that started or last matched the track */
    double points[2 * FL_LANDMARK_COUNT]; /**< the last raw points (float64 image pixels) */
    double crop[4];      /**< the extent box this frame's points were found in (x, y, w, h) */
    int started;         /**< 1 on the frame the track started */
    long frames_tracked; /**< frames reported before this one (0 on the first) */
    long crop_frame;     /**< the frame `points` were found on */
    int has_appearance;  /**< `appearance` holds the thumbnail of the face on this frame */
    int64_t appearance[FL_TRACK_APPEARANCE_SIZE]; /**< `Track.appearance` */
    double appearance_change; /**< `Track.appearance_change`: since the previous frame, 0 when not compared */
    /* the analyzer's state (`Track.state`) */
    fl_point_smoother smoother;
    fl_one_euro *score_filters; /**< one per expression label (`ScoreSmoother`) */
    int has_expression;         /**< `expression` holds the last (smoothed) result */
    float *expression;          /**< one per expression label */
    size_t expression_top;
    int has_skin, has_acne;     /**< `skin`, `acne` hold the last skin run's results */
    fl_skin_report skin;
    fl_acne_grade acne;
    float *acne_scores;         /**< one per acne label */
} fl_track;

/** The frame's detections, best first: each box and its landmark extent (x, y, w, h). */
typedef fl_status (*fl_track_detect_fn)(void *context, fl_box *boxes, double (*extents)[4], size_t *count,
                                        fl_error *err);
/** 68 points (x0, y0, ...) in each of `count` extent boxes (x, y, w, h), and each crop's
 *  appearance thumbnail (`fl_track_appearance`, FL_TRACK_APPEARANCE_SIZE values each) with
 *  `has_thumbnail[i]` 1, or 0 where there is none. */
typedef fl_status (*fl_track_landmarks_fn)(void *context, const double (*extents)[4], size_t count, float *points,
                                           int64_t *thumbnails, unsigned char *has_thumbnail, fl_error *err);

typedef struct fl_tracker {
    int detect_every_n_frames;
    size_t max_faces;
    size_t expression_labels, acne_labels;
    fl_track *pool;     /**< max_faces tracks' storage */
    fl_track **free;    /**< the unused ones */
    size_t free_count;
    fl_track **tracks;  /**< the live tracks, ascending id */
    size_t count;
    long frame;          /**< frames stepped (the next frame's index) */
    long detections_run; /**< how many times `detect` ran */
    long last_detection; /**< the frame of the last detection, -1 before any */
    int next_id;
    /* the frame's detections and scratch */
    fl_box *boxes;
    double (*extents)[4];
    size_t detection_count;
    int *holder;          /**< per detection: the id of the track holding it, -1 none */
    double *ious;         /**< tracks x detections */
    fl_track **todo;      /**< the tracks landmarked in one batch */
    double (*crops)[4];
    float *points;
    int64_t *thumbnails;          /**< max_faces x FL_TRACK_APPEARANCE_SIZE */
    unsigned char *has_thumbnail; /**< max_faces */
    size_t *order;
    unsigned char *flags; /**< 4 x max_faces: claimed, keep, track_free, det_free */
    unsigned char *claimed, *keep, *track_free, *det_free;
    int detected; /**< detection ran on the last frame stepped */
} fl_tracker;

/** A tracker for at most `max_faces` faces; `expression_labels` and `acne_labels` size the
 *  carried results. FL_ERR_NO_MEMORY when the buffers cannot be allocated. Release it with
 *  `fl_tracker_release` (also after a failed create). */
fl_status fl_tracker_create(fl_tracker *t, size_t max_faces, int detect_every_n_frames, size_t expression_labels,
                            size_t acne_labels, fl_error *err);
void fl_tracker_release(fl_tracker *t);

/** `FaceTracker.reset`: a new clip, no tracks, ids from 0, detection on the next frame. */
void fl_tracker_reset(fl_tracker *t);

/** `FaceTracker.step`: advance by one `width` x `height` frame. Afterwards `t->tracks`
 *  holds the tracks on it (ascending id), each with this frame's raw points, the crop they
 *  were found in and `started`. */
fl_status fl_tracker_step(fl_tracker *t, int width, int height, fl_track_detect_fn detect,
                          fl_track_landmarks_fn landmarks, void *context, fl_error *err);

/** Whether a stage run every `every` frames runs on a track's frame (`frames_tracked %
 *  every == 0`: its first frame, then every `every`). */
int fl_track_due(const fl_track *track, int every);

/** `tracking.appearance`: the thumbnail of the face at `points` (68 image points, x0 y0 ...)
 *  in a landmark crop (`height` x `width` x `channels` uint8, NHWC, placed in the image by
 *  `where`) into `out`; 0 (nothing written) when the points' extent covers fewer than
 *  FL_TRACK_APPEARANCE_CELLS input pixels a side, else 1. The same bounds and integer sums
 *  as Python's. */
int fl_track_appearance(const uint8_t *pixels, int height, int width, int channels, const fl_placement *where,
                        const double points[2 * FL_LANDMARK_COUNT], int64_t out[FL_TRACK_APPEARANCE_SIZE]);

/** `tracking.appearance_change`: 1 - the correlation of two thumbnails (1.0 when either is
 *  flat), in int64 then double in Python's order, so the same double. */
double fl_track_appearance_change(const int64_t previous[FL_TRACK_APPEARANCE_SIZE],
                                  const int64_t current[FL_TRACK_APPEARANCE_SIZE]);

/** The (x, y, w, h) extent of 68 float64 points (`tracking.points_extent`). */
void fl_points_extent(const double points[2 * FL_LANDMARK_COUNT], double out[4]);

#endif
