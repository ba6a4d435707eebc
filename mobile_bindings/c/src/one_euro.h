/* one_euro.h: the One Euro filter (Casiez, Roussel and Vogel, CHI 2012), `facelite.smoothing`
 * in C (not installed).
 *
 * Why: a landmarker run frame by frame gives points that shake by a pixel or two on a still
 * face; the One Euro filter smooths a slow signal hard and a fast one lightly. docs/video.md
 * gives the formula step by step; this file computes it in double, in that order, so that
 * a clip gives `facelite.smoothing.OneEuroFilter`'s numbers bit for bit
 * (tests/mobile_bindings/test_video_parity.py).
 *
 * The parameters are defined once, in sdk_python/facelite/smoothing.py (why these values:
 * its docstring); the FL_POINT_* and FL_SCORE_* copies below are checked against it by the
 * parity test.
 *
 * Points and scores go through `fl_point_smoother` and `fl_score_smooth`, as through
 * `PointSmoother` and `ScoreSmoother` in Python.
 *
 * Example:
 *
 *     fl_one_euro f[2];
 *     fl_one_euro_init(f, 2, 1.0, 0.0, 1.0);
 *     double x[2] = {0.0, 0.0};
 *     fl_one_euro_filter(f, 2, x, 0.0);          // the first sample passes through
 *     x[0] = 1.0;
 *     fl_one_euro_filter(f, 2, x, 0.1);          // x[0] = 0.3858695652173913
 */
#ifndef FACELITE_SRC_ONE_EURO_H
#define FACELITE_SRC_ONE_EURO_H

#include <stddef.h>

/** `smoothing.POINT_MIN_CUTOFF`, `POINT_BETA`, `POINT_D_CUTOFF` (Hz; points in interocular
 *  distances). */
#define FL_POINT_MIN_CUTOFF 0.5
#define FL_POINT_BETA 16.0
#define FL_POINT_D_CUTOFF 1.0
/** `smoothing.SCORE_MIN_CUTOFF`, `SCORE_BETA`, `SCORE_D_CUTOFF` (expression probabilities). */
#define FL_SCORE_MIN_CUTOFF 1.0
#define FL_SCORE_BETA 0.0
#define FL_SCORE_D_CUTOFF 1.0
/** `smoothing.MIN_SCALE`: pixels, the smallest interocular distance used as a scale. */
#define FL_SMOOTHING_MIN_SCALE 1.0

/** One value's filter state. */
typedef struct fl_one_euro {
    double min_cutoff, beta, d_cutoff;
    int started;    /**< 0 until the first sample */
    double t_prev;  /**< seconds */
    double x_prev;  /**< the last output */
    double dx_prev; /**< the last smoothed speed */
} fl_one_euro;

/** `count` filters with these parameters, none started. */
void fl_one_euro_init(fl_one_euro *filters, size_t count, double min_cutoff, double beta, double d_cutoff);

/** Filter `count` values at time `t` seconds in place (`OneEuroFilter.__call__`); the first
 *  sample passes through. `t` must be after the previous sample's (the caller checks it). */
void fl_one_euro_filter(fl_one_euro *filters, size_t count, double *values, double t);

/** `smoothing.interocular_distance`: from the mean of points 36-41 to the mean of 42-47
 *  (68 (x, y) pairs), in double. */
double fl_interocular_distance(const double points[136]);

/** `smoothing.PointSmoother`: one track's 68 points, a filter per coordinate, in units of
 *  the interocular distance of the track's first points (at least FL_SMOOTHING_MIN_SCALE). */
typedef struct fl_point_smoother {
    int has_scale;
    double scale;
    fl_one_euro filters[136];
} fl_point_smoother;

/** A smoother with the FL_POINT_* parameters and no scale yet. */
void fl_point_smoother_init(fl_point_smoother *s);

/** Raw points (68 (x, y) pairs, image pixels) at `t` seconds -> smoothed points. */
void fl_point_smoother_apply(fl_point_smoother *s, const double raw[136], double t, double out[136]);

/** `smoothing.ScoreSmoother`: `count` probabilities through `filters` (FL_SCORE_* parameters,
 *  from `fl_one_euro_init`) at `t` seconds; the smoothed values into `out` (float64) and the
 *  index of the first of their maxima returned. */
size_t fl_score_smooth(fl_one_euro *filters, size_t count, const float *scores, double t, double *out);

#endif
