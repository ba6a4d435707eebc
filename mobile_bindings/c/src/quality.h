/* quality.h: the capture quality gate, `facelite.quality` in C (not installed).
 *
 * The same twelve checks, codes, thresholds, messages and order as `quality.CHECK_RULES`,
 * from the same inputs: a face's 68 landmarks (float32, as the landmarker gives them), the
 * detector's box in the landmarks' extent convention (or none), the image size and the
 * capture measures of `SkinMeasurer` (or none). Every value is computed in double from
 * the float32 points, in the order the Python reference writes it; the two agree within
 * rounding (tests/mobile_bindings/test_quality_parity.py holds them to 1e-9 and to the
 * same verdicts). Why each threshold has its value is the Python module's docstring. */
#ifndef FACELITE_SRC_QUALITY_H
#define FACELITE_SRC_QUALITY_H

#include <stddef.h>
#include <stdint.h>

#include "facelite/analyzer.h"

/** The checks, in report order (`quality.CHECK_CODES`). */
typedef enum fl_check_code {
    FL_CHECK_FACE_TOO_SMALL,
    FL_CHECK_LOW_RESOLUTION,
    FL_CHECK_HEAD_TURNED,
    FL_CHECK_HEAD_TILTED,
    FL_CHECK_EYES_CLOSED,
    FL_CHECK_OCCLUDED,
    FL_CHECK_BLUR,
    FL_CHECK_NOISY,
    FL_CHECK_UNDEREXPOSED,
    FL_CHECK_OVEREXPOSED,
    FL_CHECK_COLOUR_CAST,
    FL_CHECK_UNEVEN_LIGHT,
    FL_CHECK_COUNT
} fl_check_code;

/** The capture measures the image checks read (`RawSkinMeasures.capture` keys). */
typedef enum fl_capture_measure {
    FL_CAPTURE_SHARPNESS,
    FL_CAPTURE_NOISE,
    FL_CAPTURE_SKIN_LIGHTNESS,
    FL_CAPTURE_CLIPPED_FRACTION,
    FL_CAPTURE_DARK_FRACTION,
    FL_CAPTURE_CAST,
    FL_CAPTURE_LIGHT_ASYMMETRY,
    FL_CAPTURE_SCLERA_PIXELS,
    FL_CAPTURE_BRIGHT_FRACTION,
    FL_CAPTURE_COUNT
} fl_capture_measure;

/** Capture measures by `fl_capture_measure`; bit i of `present` says value i is given
 *  (a missing measure skips its check, as a missing key does in Python). */
typedef struct fl_capture {
    double values[FL_CAPTURE_COUNT];
    uint32_t present;
} fl_capture;

/** Head rotation in degrees; signs as `quality.head_pose` (yaw > 0: toward the image's
 *  right; pitch > 0: chin up; roll > 0: the eye line slopes down to the image's right). */
typedef struct fl_head_pose {
    double yaw, pitch, roll;
} fl_head_pose;

typedef struct fl_quality_check {
    fl_check_code code;
    int passed;
    double value; /**< NaN when not finite (fails) */
    double threshold;
} fl_quality_check;

/** `quality.CaptureQuality`: the checks that ran, in order. */
typedef struct fl_capture_quality {
    int reliable;   /**< every check that ran passed */
    int restorable; /**< a restorable check failed and every other failure is restorable or tolerated */
    fl_head_pose pose;
    fl_quality_check checks[FL_CHECK_COUNT];
    size_t count;
} fl_capture_quality;

/** The check's code ("face_too_small", ...), NULL past the end. */
const char *fl_check_name(fl_check_code code);
/** The sentence for the user when the check fails. */
const char *fl_check_message(fl_check_code code);
/** The threshold, and whether the value must be at least it (1) or at most it (0). */
double fl_check_threshold(fl_check_code code);
int fl_check_at_least(fl_check_code code);
/** 1 for the failures restoration repairs (`quality.RESTORABLE_CHECKS`). */
int fl_check_restorable(fl_check_code code);
/** 1 for the failures that do not stop restoration but remain after it
 *  (`quality.RESTORATION_TOLERATES`). */
int fl_check_restoration_tolerates(fl_check_code code);
/** The `RawSkinMeasures.capture` key of a measure ("sharpness", ...), NULL past the end. */
const char *fl_capture_measure_name(fl_capture_measure measure);

/** `quality.head_pose`: the 3D mean face fitted to the rigid landmarks (scaled
 *  orthographic camera, least squares); NaN angles for degenerate points. */
void fl_head_pose_estimate(const float points[2 * FL_LANDMARK_COUNT], fl_head_pose *out);
/** `quality.face_scale`: the face's size in source pixels as the skin crop measures it:
 *  the crop's eye distance over the scale of `fl_skin_crop_matrix`. */
double fl_face_scale(const float points[2 * FL_LANDMARK_COUNT]);
/** `quality.eye_aspect_ratio`: both eyes' mean lid-height-over-width ratio. */
double fl_eye_aspect_ratio(const float points[2 * FL_LANDMARK_COUNT]);
/** `quality.face_unseen`: the share of the points' extent box grown by FRAME_MARGIN that
 *  lies outside the width x height image, plus 1 - the extent's IoU with `box` (x, y, w, h;
 *  NULL: that term is 0). */
double fl_face_unseen(const float points[2 * FL_LANDMARK_COUNT], const double *box, int width, int height);

/** `quality.assess_capture`: every check whose input is given (`capture` NULL: the
 *  geometric checks only; `box` NULL: `occluded` judges the frame only) into `out`. */
void fl_assess_capture(const float points[2 * FL_LANDMARK_COUNT], const double *box, int width, int height,
                       const fl_capture *capture, fl_capture_quality *out);

#endif
