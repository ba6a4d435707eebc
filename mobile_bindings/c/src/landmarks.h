/* landmarks.h: 68 face landmarks from a landmarks bundle (not installed).
 *
 * The C twin of `facelite.landmarker.FaceLandmarker.detect_batch` with the rules of
 * `facelite.tasks.LandmarksTask`: the bundle's square face crop around the extent box,
 * 136 outputs read as 68 (x, y) pairs in [0, 1] of the input, scaled to input pixels in
 * float32 and mapped to the image through the crop's placement in double, then float32. */
#ifndef FACELITE_SRC_LANDMARKS_H
#define FACELITE_SRC_LANDMARKS_H

#include "facelite/analyzer.h"
#include "facelite/preprocess.h"

/** FL_ERR_BUNDLE_INVALID unless `model` outputs 136 values per face (`LandmarksTask.check_engine`). */
fl_status fl_landmarks_check(const fl_bundle *bundle, const fl_model *model, fl_error *err);

/** The face whose extent box is `extent` (x, y, w, h): its crop prepared and run
 *  (`fl_model_run_image`), and the 68 points written to `points` (x0, y0, ...); the crop's
 *  placement in the image to `placement` unless NULL (its pixels: `fl_model_pixels`). */
fl_status fl_landmarks_detect(fl_model *model, const fl_input_spec *spec, const fl_image *image,
                              const double extent[4], fl_scratch *scratch,
                              float points[2 * FL_LANDMARK_COUNT], fl_placement *placement, fl_error *err);

#endif
