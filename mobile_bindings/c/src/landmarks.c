/* landmarks.c: the landmark crop, the model and the points in image pixels (landmarks.h). */
#include <math.h>

#include "landmarks.h"

#include "status.h"

fl_status fl_landmarks_check(const fl_bundle *bundle, const fl_model *model, fl_error *err)
{
    fl_tensor_info info;
    fl_status st = fl_model_output_info(model, 0, &info, err);
    if (st != FL_OK) return st;
    if (info.count != 2 * FL_LANDMARK_COUNT)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: a landmarks model outputs %d values per face (%d points), this one %zu; rebuild the bundle",
                       fl_bundle_path(bundle), 2 * FL_LANDMARK_COUNT, FL_LANDMARK_COUNT, info.count);
    return fl_ok(err);
}

fl_status fl_landmarks_detect(fl_model *model, const fl_input_spec *spec, const fl_image *image,
                              const double extent[4], fl_scratch *scratch,
                              float points[2 * FL_LANDMARK_COUNT], fl_placement *placement, fl_error *err)
{
    fl_placement where;
    fl_status st = fl_model_run_image(model, image, spec, extent, &where, scratch, err);
    if (st != FL_OK) return st;
    size_t n;
    const float *out = fl_model_output(model, 0, &n);
    if (out == NULL || n != 2 * FL_LANDMARK_COUNT)
        return fl_fail(err, FL_ERR_INTERNAL, "the landmarks model gave no output of %d values", 2 * FL_LANDMARK_COUNT);
    for (size_t i = 0; i < n; i++) /* as LandmarksTask.points: NaN points are a damaged bundle */
        if (!isfinite(out[i]))
            return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                           "the landmarks model output NaN or infinite coordinates; its bundle is damaged: rebuild "
                           "or re-download it");
    const float scale_x = (float)spec->width, scale_y = (float)spec->height;
    for (int k = 0; k < FL_LANDMARK_COUNT; k++) {
        float px = out[2 * k] * scale_x, py = out[2 * k + 1] * scale_y; /* numpy: float32 products */
        points[2 * k] = (float)(where.origin_x + (double)px * where.step_x);
        points[2 * k + 1] = (float)(where.origin_y + (double)py * where.step_y);
    }
    if (placement) *placement = where;
    return fl_ok(err);
}
