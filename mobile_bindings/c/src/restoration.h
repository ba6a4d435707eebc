/* restoration.h: a face crop -> its denoised, x2 super-resolved copy, by an image_to_image bundle.
 *
 * The C twin of `facelite.restoration.FaceRestorer.restore`, with the output rules of
 * `facelite.tasks.OutputImageSpec` (docs/bundle.md, "Image outputs"): the crop is cut into
 * model-size tiles overlapping by 2 x `context` (`tile_starts`), each tile goes through the
 * preprocessing spec (`fl_prepare`) and the model, each output value v becomes the pixel
 * clamp(floor(v * std + mean + 0.5), 0, 255) in float32 (each operation rounded on its own),
 * and each tile writes only its part at least `context` input pixels from its inner edges,
 * later tiles over earlier ones. A crop smaller than a tile is padded by repeating its last
 * row and column. The bytes equal the Python runtime's
 * (tests/mobile_bindings/test_restoration_parity.py).
 *
 *     fl_restorer *restorer;
 *     if (fl_restorer_create(bundle, NULL, FL_ACCELERATOR_CPU, 2, &restorer, &err) != FL_OK) ...
 *     int s = fl_restorer_scale(restorer);
 *     uint8_t *out = malloc((size_t)crop.width * s * crop.height * s * 3);
 *     fl_restore(restorer, &crop, out, (size_t)crop.width * s * 3, &err);   // BGR, s x the crop
 *     fl_restorer_destroy(restorer);
 */
#ifndef FACELITE_SRC_RESTORATION_H
#define FACELITE_SRC_RESTORATION_H

#include <stdint.h>

#include "facelite/analyzer.h"
#include "facelite/facelite.h"
#include "facelite/image.h"

/** An image_to_image bundle's `output` block. */
typedef struct fl_output_image_spec {
    int scale;      /**< output pixels per input pixel along each axis */
    fl_color color; /**< FL_COLOR_RGB or FL_COLOR_BGR: the output's channel order */
    float mean[3];
    float std[3];
    int context;    /**< input pixels dropped at each inner tile edge */
} fl_output_image_spec;

/** The bundle's output block, checked as `ImageToImageTask.check_manifest` does. */
fl_status fl_output_image_spec_read(const fl_bundle *bundle, fl_output_image_spec *out, fl_error *err);

/** FL_ERR_BUNDLE_INVALID unless `model` outputs (1, scale H, scale W, C) for the bundle's
 *  (1, H, W, C) input (`ImageToImageTask.check_engine`). */
fl_status fl_restoration_check(const fl_bundle *bundle, const fl_model *model, fl_error *err);

/** Tile start positions along an axis of `length` >= `tile` pixels (`restoration.tile_starts`):
 *  0, then steps of tile - 2 context, the last one at length - tile. Writes at most
 *  `capacity` starts and returns how many there are (more than `capacity`: the caller's
 *  array was too small). */
size_t fl_tile_starts(int length, int tile, int context, int *starts, size_t capacity);

typedef struct fl_restorer fl_restorer;

/** An image_to_image bundle's `variant` (NULL or "auto": `fl_bundle_choose_variant`) loaded
 *  for restoring crops; its buffers are owned and reused across `fl_restore` calls. */
FL_API fl_status fl_restorer_create(fl_bundle *bundle, const char *variant, fl_accelerator accelerator, int threads,
                                    fl_restorer **out, fl_error *err);
FL_API void fl_restorer_destroy(fl_restorer *restorer);
/** The manifest's `output.scale`. */
FL_API int fl_restorer_scale(const fl_restorer *restorer);
FL_API const fl_model_info *fl_restorer_model_info(const fl_restorer *restorer);

/** Restore `crop` (any pixel format) into `dst`: scale x height rows of scale x width BGR
 *  pixels, rows `dst_stride` bytes apart. */
FL_API fl_status fl_restore(fl_restorer *restorer, const fl_image *crop, uint8_t *dst, size_t dst_stride,
                            fl_error *err);

/** `restoration.native_crop_side`: photo pixels across the `size` skin crop of the face
 *  whose 68 landmarks are `points` (`fl_skin_crop_matrix`), rounded up and kept between
 *  size / scale and size: where `fl_restore_face` cuts, so the cut neither drops detail the
 *  photo has nor asks the restoration for more than x scale. */
int fl_native_crop_side(const float points[2 * FL_LANDMARK_COUNT], int size, int scale);

/** `FaceRestorer.restore_face`: the `size` skin crop of the face with 68 `points` in
 *  `image` (any pixel format), restored: cut at `fl_native_crop_side` pixels, restored
 *  x scale, area-averaged to `size` when larger. Into `dst` (size x size BGR, rows
 *  `dst_stride` apart) and `crop_points` (the landmarks in its pixels: the cut's, times
 *  size / side in float32). The restorer owns the buffers (reused across calls). */
FL_API fl_status fl_restore_face(fl_restorer *restorer, const fl_image *image,
                                 const float points[2 * FL_LANDMARK_COUNT], int size, uint8_t *dst, size_t dst_stride,
                                 float crop_points[2 * FL_LANDMARK_COUNT], fl_error *err);

#endif
