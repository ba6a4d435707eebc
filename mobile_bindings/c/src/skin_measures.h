/* skin_measures.h: the skin crop, its masks, the skin_metrics bundle's input tensor and its
 * named outputs: `facelite.skin_measures` in C (not installed).
 *
 * The crop (docs/skin.md §2) and the masks (§2.4) are computed here as the Python runtime
 * computes them, to the byte; the measures themselves (§3-§6) are the bundle's graph, run
 * through LiteRT as in Python, so they agree to the last bit on the same machine
 * (tests/mobile_bindings/test_skin_measures_parity.py). Every per-face skin stage (acne,
 * restoration, the measures) cuts its pixels with `fl_skin_crop`. */
#ifndef FACELITE_SRC_SKIN_MEASURES_H
#define FACELITE_SRC_SKIN_MEASURES_H

#include <stddef.h>
#include <stdint.h>

#include "facelite/analyzer.h"
#include "facelite/facelite.h"

/** `SKIN_CROP_SIZE`: the side of the skin crop in pixels. */
#define FL_SKIN_CROP_SIZE 256
/** The masks after R, G, B (`MASK_CHANNELS`): the seven regions in `fl_region_name` order,
 *  then the subject's right eye (iBUG 36-41) and left eye (42-47). */
#define FL_SKIN_MASK_COUNT 9
/** `MEASURE_ROWS`: the seven regions, then "face". */
#define FL_SKIN_ROW_COUNT 8
#define FL_SKIN_FACE_ROW 7
#define FL_SKIN_MEASURE_COUNT 11
#define FL_SKIN_CAPTURE_COUNT 9
#define FL_SKIN_LIGHTING_COUNT 6
/** `CROP_GAINS`: crop_gain_r, crop_gain_g, crop_gain_b. */
#define FL_SKIN_CROP_GAIN_COUNT 3

/** Names in the Python module's order (NULL past the end): `REGION_MEASURES`,
 *  `CAPTURE_MEASURES`, `LIGHTING_MEASURES`, `CROP_GAINS`, `MASK_CHANNELS`, `MEASURE_ROWS`. */
const char *fl_skin_measure_name(size_t index);
const char *fl_skin_capture_name(size_t index);
const char *fl_skin_lighting_name(size_t index);
const char *fl_skin_crop_gain_name(size_t index);
const char *fl_skin_mask_name(size_t index);
const char *fl_skin_row_name(size_t index);

/** `crop_matrix`: the 2x3 image -> crop similarity for a `size` crop of the face whose
 *  landmarks are `points` (docs/skin.md 2.1). */
void fl_skin_crop_matrix(const float points[2 * FL_LANDMARK_COUNT], int size, double matrix[6]);

/** `map_points`: `count` points through `matrix`, in double left to right, stored as float. */
void fl_skin_map_points(const double matrix[6], const float *points, size_t count, float *out);

/** `face_crop`: the size x size crop of `image` into `dst` (rows size x channels of the
 *  image's format, tightly packed), its matrix and the landmarks in crop pixels
 *  (`crop_points`, may be NULL). */
fl_status fl_skin_crop(const fl_image *image, const float points[2 * FL_LANDMARK_COUNT], int size, uint8_t *dst,
                       double matrix[6], float crop_points[2 * FL_LANDMARK_COUNT], fl_error *err);

/** `crop_masks`: the FL_SKIN_MASK_COUNT 0/1 masks of a size x size crop, interleaved
 *  (`masks[(y * size + x) * FL_SKIN_MASK_COUNT + k]`, as numpy's (S, S, 9) array). */
void fl_skin_crop_masks(const float crop_points[2 * FL_LANDMARK_COUNT], int size, uint8_t *masks);

/** `measure_pixels` as the model's float input: R, G, B of the crop (any pixel format;
 *  grey gives R = G = B), then the masks, size x size x (3 + FL_SKIN_MASK_COUNT). */
void fl_skin_measure_input(const uint8_t *crop, fl_pixel_format format, const uint8_t *masks, int size, float *out);

/** Where each named value lies in the bundle's output vector (`tasks.MeasuresLayout`). */
typedef struct fl_skin_layout {
    size_t size;                                           /**< values in the output */
    size_t table[FL_SKIN_ROW_COUNT][FL_SKIN_MEASURE_COUNT];
    size_t capture[FL_SKIN_CAPTURE_COUNT];
    size_t lighting[FL_SKIN_LIGHTING_COUNT];
    size_t crop_gains[FL_SKIN_CROP_GAIN_COUNT];
    size_t tone_ita;
} fl_skin_layout;

/** Read the layout from a skin_metrics bundle's manifest (`output.rows`, `columns`,
 *  `globals`; the crop gains are globals since bundle 2.1.0), checking it names everything this C core reads and that the input is rgb
 *  plus `MASK_CHANNELS` (as `SkinMeasurer` does); FL_ERR_BUNDLE_INVALID otherwise. */
fl_status fl_skin_layout_read(const fl_bundle *bundle, fl_skin_layout *out, fl_error *err);

/** `SkinMetricsTask.check_engine` (for `fl_model_check_task`): the model outputs as many
 *  values as the manifest lays out. */
fl_status fl_skin_metrics_check(const fl_bundle *bundle, const fl_model *model, fl_error *err);

/** `RawSkinMeasures` as numbers: regions[row][measure] (`fl_skin_row_name`,
 *  `fl_skin_measure_name` order), capture, tone, lighting and the crop gains (R, G, B:
 *  the crop -> the colour the measures see, `normalised_crop`). */
typedef struct fl_raw_skin {
    double regions[FL_SKIN_ROW_COUNT][FL_SKIN_MEASURE_COUNT];
    double capture[FL_SKIN_CAPTURE_COUNT];
    double tone_ita;
    double lighting[FL_SKIN_LIGHTING_COUNT];
    double crop_gains[FL_SKIN_CROP_GAIN_COUNT];
} fl_raw_skin;

/** The measures of one face: the skin_metrics model and its reusable buffers. */
typedef struct fl_skin_measurer fl_skin_measurer;

/** A measurer over a loaded skin_metrics `model` of `bundle` (kept, not owned). */
fl_status fl_skin_measurer_create(const fl_bundle *bundle, fl_model *model, fl_skin_measurer **out, fl_error *err);
void fl_skin_measurer_destroy(fl_skin_measurer *measurer);

/** The crop side the bundle measures. */
int fl_skin_measurer_size(const fl_skin_measurer *measurer);

/** `SkinMeasurer.measure_crops` of one crop: its pixels (size x size, `format`) and its
 *  landmarks in crop pixels -> `out`. FL_ERR_BUNDLE_INVALID for a non-finite output. */
fl_status fl_skin_measure_crop(fl_skin_measurer *measurer, const uint8_t *crop, fl_pixel_format format,
                               const float crop_points[2 * FL_LANDMARK_COUNT], fl_raw_skin *out, fl_error *err);

/** The masks of the last `fl_skin_measure_crop` (as `fl_skin_crop_masks` made them). */
const uint8_t *fl_skin_measurer_masks(const fl_skin_measurer *measurer);

#endif
