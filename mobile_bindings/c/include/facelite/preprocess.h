/*
 * preprocess.h: pixels -> model input, the numbered spec of docs/preprocessing.md in C.
 *
 * Why: a model must see, on a phone, the very tensor the toolchain trained it on and the
 * Python runtime (`facelite.preprocess`) verified it with. Every kernel here is the
 * spec's integer (or IEEE float32/double) arithmetic written out, so the tensors equal
 * Python's bit for bit; `tests/vectors/preprocess/` pins them
 * (mobile_bindings/c/tests/test_preprocess_vectors.c replays every vector).
 *
 * Steps (spec numbers): 2 colour (`fl_to_color`), 3 geometry (`fl_crop_square`,
 * `fl_letterbox`, `fl_warp_affine`), 4 resize (`fl_resize_pixels`), 5 normalise
 * (`fl_normalize`), 6 quantize (`fl_quantize`, `fl_dequantize`). `fl_prepare_pixels` runs
 * 2-4 from any `fl_image` as `facelite.preprocess.prepare_pixels` does (a face crop is
 * resized straight from the image through clamped taps, colour converted only where a tap
 * reads), and `fl_prepare` adds step 5. Step 1 (decoding) is facelite/image.h.
 *
 * Kernels that only move pixels (resize, crop, letterbox, warp) keep the source's
 * channels: an RGBA image gives RGBA output. Output buffers are the caller's, rows
 * `dst_stride` bytes apart (tensors: tightly packed H x W x C).
 *
 * Memory: the resize kernels need working memory (tap tables, a row accumulator). Pass an
 * `fl_scratch` made once and reused: after the first call of a given size no call
 * allocates. With a NULL scratch each call allocates and frees its own.
 *
 * Example (a bundle's input spec, a decoded photo, a face box from the detector):
 *
 *     fl_scratch *scratch;
 *     fl_placement where;
 *     const fl_input_spec *spec = fl_bundle_input_spec(bundle);
 *     float *tensor = malloc(sizeof(float) * spec->height * spec->width * spec->channels);
 *     double box[4] = {120.0, 80.5, 96.0, 110.0};       // x, y, w, h in image pixels
 *     fl_scratch_create(&scratch, &err);
 *     if (fl_prepare(&img.image, spec, box, tensor, &where, scratch, &err) != FL_OK) ...
 *     // a model-input point (px, py) lies at image (where.origin_x + px * where.step_x, ...)
 *     fl_scratch_destroy(scratch);
 */
#ifndef FACELITE_PREPROCESS_H
#define FACELITE_PREPROCESS_H

#include "facelite/facelite.h"
#include "facelite/image.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Resize weights are integers summing to 2^FL_WEIGHT_BITS per axis (step 4). */
#define FL_WEIGHT_BITS 11
/** Affine-warp sample positions have this many fractional bits (step 3.4). */
#define FL_WARP_BITS 10
/** Value of every channel of the letterbox padding (step 3.3). */
#define FL_LETTERBOX_FILL 0
/** A face crop's side may be at most this many times the image's longer side. */
#define FL_MAX_CROP_FACTOR 16
/** Largest output side of a kernel here. */
#define FL_MAX_OUTPUT_SIDE 65536

/** Reusable working memory of the resize kernels; one per thread. */
typedef struct fl_scratch fl_scratch;

FL_API fl_status fl_scratch_create(fl_scratch **out, fl_error *err);
FL_API void fl_scratch_destroy(fl_scratch *scratch);

/** Where the model input lies in the source image: image = origin + input * step, in
 *  continuous coordinates with pixel edges on integers (`facelite.preprocess.Placement`). */
typedef struct fl_placement {
    double origin_x;
    double origin_y;
    double step_x;
    double step_y;
} fl_placement;

/** A model-input point -> source-image pixels (`Placement.to_image`, float64 arithmetic). */
FL_API void fl_placement_to_image(const fl_placement *placement, double x, double y, double *image_x,
                                  double *image_y);
/** A source-image point -> model-input pixels (`Placement.to_input`). */
FL_API void fl_placement_to_input(const fl_placement *placement, double x, double y, double *input_x,
                                  double *input_y);

/** FL_OK when `spec` is usable here: sizes 1..FL_MAX_OUTPUT_SIDE, channels 1 for gray and
 *  3 otherwise plus `extra_channels` (at most FL_MAX_INPUT_CHANNELS), known enums, a finite
 *  margin >= 0, finite mean and non-zero finite std. `fl_prepare` and `fl_prepare_pixels`
 *  refuse a spec with extra channels (they make colour channels only). */
FL_API fl_status fl_input_spec_check(const fl_input_spec *spec, fl_error *err);

/* -- step 2: colour ---------------------------------------------------------------- */

/** Channels `color` gives: 1 for FL_COLOR_GRAY, else 3. */
FL_API int fl_color_channels(fl_color color);

/** `src` (any pixel format) -> the model's colours, src->width x src->height x
 *  `fl_color_channels(color)`. Grey is (1868 B + 9617 G + 4899 R + 8192) >> 14. */
FL_API fl_status fl_to_color(const fl_image *src, fl_color color, uint8_t *dst, size_t dst_stride, fl_error *err);

/* -- step 4: resize ------------------------------------------------------------------ */

/** `src` -> width x height through the spec's separable taps (weights summing to 2048
 *  per axis, (acc + 2^21) >> 22), channels kept. A resize to the same size is a copy. */
FL_API fl_status fl_resize_pixels(const fl_image *src, int width, int height, fl_resize method, uint8_t *dst,
                                  size_t dst_stride, fl_scratch *scratch, fl_error *err);

/* -- step 3: geometry ------------------------------------------------------------ */

/** How an image is fitted into a letterboxed input (`preprocess.letterbox_params`). */
typedef struct fl_letterbox_geometry {
    double scale; /**< min(width / image_width, height / image_height) */
    int pad_x;    /**< fill columns on the left */
    int pad_y;    /**< fill rows on the top */
    int new_width;
    int new_height;
} fl_letterbox_geometry;

/** The geometry of fitting an image_width x image_height image into width x height. */
FL_API fl_status fl_letterbox_params(int image_width, int image_height, int width, int height,
                                     fl_letterbox_geometry *out, fl_error *err);

/** `src` resized with its aspect ratio kept and centred on a width x height canvas of
 *  FL_LETTERBOX_FILL, channels kept (`preprocess.letterbox`); `geometry` may be NULL. */
FL_API fl_status fl_letterbox(const fl_image *src, int width, int height, fl_resize method, uint8_t *dst,
                              size_t dst_stride, fl_letterbox_geometry *geometry, fl_scratch *scratch, fl_error *err);

/** A square face crop in whole pixels (step 3.2): image pixels [x0, x0 + side) x
 *  [y0, y0 + side), edge pixels repeated outside the image. */
typedef struct fl_square_crop {
    int64_t x0;
    int64_t y0;
    int64_t side; /**< at least 1, at most FL_MAX_CROP_FACTOR x the image's longer side */
} fl_square_crop;

/** The square crop of `box` (x, y, w, h) grown by `margin` per side in an
 *  image_width x image_height image (`preprocess.square_crop` and its checks):
 *  FL_ERR_INVALID_ARGUMENT for a non-finite box or a crop over FL_MAX_CROP_FACTOR x the
 *  image's longer side. */
FL_API fl_status fl_square_crop_of(const double box[4], double margin, int image_width, int image_height,
                                   fl_square_crop *out, fl_error *err);

/** Copy `crop` (from `fl_square_crop_of`) out of `src`: side x side pixels, channels
 *  kept, indices clamped to the image (`preprocess.crop_square`). */
FL_API fl_status fl_crop_square(const fl_image *src, const fl_square_crop *crop, uint8_t *dst, size_t dst_stride,
                                fl_error *err);

/** Resample `src` through the 2x3 row-major affine `matrix` (image -> output
 *  coordinates) into width x height, channels kept (step 3.4, `preprocess.warp_affine`).
 *  FL_ERR_INVALID_ARGUMENT when the matrix is singular or not finite. */
FL_API fl_status fl_warp_affine(const fl_image *src, const double matrix[6], int width, int height, uint8_t *dst,
                                size_t dst_stride, fl_error *err);

/* -- steps 5 and 6 ------------------------------------------------------------------ */

/** Step 5: out[i * C + c] = ((float)pixels[i * C + c] - mean[c]) / std[c] in float32,
 *  C = spec->channels, for `pixel_count` interleaved pixels. */
FL_API fl_status fl_normalize(const uint8_t *pixels, size_t pixel_count, const fl_input_spec *spec, float *out,
                              fl_error *err);

/** Step 6: q = clamp(nearbyintf(x / scale) + zero_point, dtype's range), the division and
 *  the addition in float32 as Python does; NaN gives 0 (clamped). `dtype` is
 *  FL_DTYPE_INT8, UINT8, INT16 or INT32; `out` holds `count` of them. */
FL_API fl_status fl_quantize(const float *x, size_t count, float scale, int64_t zero_point, fl_dtype dtype, void *out,
                             fl_error *err);

/** Integer model output -> float32: ((float)q - (float)zero_point) * scale. */
FL_API fl_status fl_dequantize(const void *q, size_t count, fl_dtype dtype, float scale, int64_t zero_point,
                               float *out, fl_error *err);

/* -- steps 2-5 together --------------------------------------------------------------- */

/**
 * Steps 2-4 (`facelite.preprocess.prepare_pixels`): `src` [+ face `box` (x, y, w, h) in
 * image pixels, used when spec->crop is FL_CROP_FACE; NULL: the whole image] -> uint8
 * spec->height x spec->width x spec->channels, tightly packed, in `out_pixels`.
 * `placement` (may be NULL) receives where that input lies in `src`:
 * face: origin (x0, y0), step side / width; letterbox: origin -pad / scale, step
 * 1 / scale; otherwise: origin 0, step image size / input size.
 */
FL_API fl_status fl_prepare_pixels(const fl_image *src, const fl_input_spec *spec, const double box[4],
                                   uint8_t *out_pixels, fl_placement *placement, fl_scratch *scratch, fl_error *err);

/** Steps 2-5 (`facelite.preprocess.prepare`): as `fl_prepare_pixels`, then normalised to
 *  float32 spec->height x spec->width x spec->channels in `out_tensor`. */
FL_API fl_status fl_prepare(const fl_image *src, const fl_input_spec *spec, const double box[4], float *out_tensor,
                            fl_placement *placement, fl_scratch *scratch, fl_error *err);

/* -- steps 5-6 into a model's input (engine.c) ------------------------------------------ */

/** Set input 0 from one sample of uint8 pixels after preprocessing steps 1-4 (`count`
 *  values, NHWC, batch 1; `spec`: their mean and std): steps 5-6 are written straight into
 *  the model's input, bit-identical to `fl_normalize` then `fl_model_set_input`. An
 *  int8/uint8 input goes through a 256-entry table per channel, built on the first call
 *  and whenever the spec's mean or std change (exact for any mean and std). */
FL_API fl_status fl_model_set_pixels(fl_model *model, const uint8_t *pixels, size_t count, const fl_input_spec *spec,
                                     fl_error *err);
/** Preprocess `image` [+ `box`] with `spec` (steps 1-4, `fl_prepare_pixels`, into a pixel
 *  buffer the model keeps), `fl_model_set_pixels`, then `fl_model_invoke`: what `fl_prepare`
 *  + `fl_model_run` do, without the float tensor. `placement` may be NULL. */
FL_API fl_status fl_model_run_image(fl_model *model, const fl_image *image, const fl_input_spec *spec,
                                    const double box[4], fl_placement *placement, fl_scratch *scratch,
                                    fl_error *err);
/** The uint8 pixels (steps 1-4, NHWC) of the last `fl_model_run_image` on this model, valid
 *  until its next run; NULL before the first. VIDEO mode's appearance check reuses the
 *  landmark crop from here instead of resizing the face again. */
FL_API const uint8_t *fl_model_pixels(const fl_model *model);

#ifdef __cplusplus
}
#endif

#endif /* FACELITE_PREPROCESS_H */
