/*
 * preprocess.c: docs/preprocessing.md steps 2-6 over caller-owned pixels.
 *
 * Each function mirrors one of `facelite.preprocess` (named in its comment) and follows
 * the spec's arithmetic literally, so the vectors in tests/vectors/preprocess/ come out
 * bit for bit. Three things keep that true in C:
 * - every double/float formula is one IEEE operation at a time: no fused multiply-add
 *   (the pragma below for clang; the build passes -ffp-contract=off to every compiler);
 * - resize sums are done in uint32 arithmetic: the spec's sums fit in int32 and give the
 *   same bits, and the pathological area shrinks (over ~1000x, where a tap weight can go
 *   negative) wrap exactly as the reference's int32 numpy sums do, with no undefined
 *   behaviour;
 * - coordinate roundings are floor(v + 0.5) in double, converted to integers only once
 *   they are known to be in range.
 */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include "facelite/preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"
#include "status.h"

/* Most resize taps one axis may need (index and weight each): a 64 MiB table. Only an
 * `area` shrink by thousands of times comes near it. */
#define MAX_AXIS_TAPS ((size_t)1 << 23)

/* ---------------------------------------------------------------------------------
 * Scratch memory
 * ------------------------------------------------------------------------------- */

struct fl_scratch {
    int32_t *taps; /* row indices, row weights, column indices, column weights */
    size_t taps_capacity;
    uint8_t *row; /* one source row converted to the model's colours */
    size_t row_capacity;
    uint32_t *acc; /* one output row of sums */
    size_t acc_capacity;
    uint8_t *pixels; /* fl_prepare's pixels before normalisation */
    size_t pixels_capacity;
};

fl_status fl_scratch_create(fl_scratch **out, fl_error *err)
{
    if (out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_scratch_create: out is NULL");
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return fl_fail(err, FL_ERR_NO_MEMORY, "fl_scratch_create: out of memory");
    return fl_ok(err);
}

void fl_scratch_destroy(fl_scratch *scratch)
{
    if (scratch == NULL)
        return;
    free(scratch->taps);
    free(scratch->row);
    free(scratch->acc);
    free(scratch->pixels);
    free(scratch);
}

/* The caller's scratch, or a temporary one (freed by end_scratch). */
static fl_status begin_scratch(fl_scratch *given, fl_scratch **use, fl_error *err)
{
    if (given != NULL) {
        *use = given;
        return FL_OK;
    }
    return fl_scratch_create(use, err);
}

static void end_scratch(fl_scratch *given, fl_scratch *used)
{
    if (given == NULL)
        fl_scratch_destroy(used);
}

/* ---------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------- */

/* round_half_up (step 3.1) of a finite double, as a double. */
static double round_half_up(double v)
{
    return floor(v + 0.5);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static int check_out_size(int width, int height)
{
    return width >= 1 && height >= 1 && width <= FL_MAX_OUTPUT_SIDE && height <= FL_MAX_OUTPUT_SIDE;
}

void fl_placement_to_image(const fl_placement *p, double x, double y, double *image_x, double *image_y)
{
    if (image_x != NULL)
        *image_x = p->origin_x + x * p->step_x;
    if (image_y != NULL)
        *image_y = p->origin_y + y * p->step_y;
}

void fl_placement_to_input(const fl_placement *p, double x, double y, double *input_x, double *input_y)
{
    if (input_x != NULL)
        *input_x = (x - p->origin_x) / p->step_x;
    if (input_y != NULL)
        *input_y = (y - p->origin_y) / p->step_y;
}

int fl_color_channels(fl_color color)
{
    return color == FL_COLOR_GRAY ? 1 : 3;
}

fl_status fl_input_spec_check(const fl_input_spec *spec, fl_error *err)
{
    int c;
    if (spec == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "input spec is NULL");
    if (!check_out_size(spec->width, spec->height))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "input spec: size %dx%d is outside 1..%d per side",
                       spec->width, spec->height, FL_MAX_OUTPUT_SIDE);
    if ((unsigned)spec->color > FL_COLOR_GRAY_AS_RGB)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "input spec: unknown colour %d", (int)spec->color);
    if ((unsigned)spec->resize > FL_RESIZE_NEAREST)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "input spec: unknown resize %d", (int)spec->resize);
    if ((unsigned)spec->crop > FL_CROP_LETTERBOX)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "input spec: unknown crop %d", (int)spec->crop);
    if (spec->extra_channels < 0 || spec->channels != fl_color_channels(spec->color) + spec->extra_channels ||
        spec->channels > FL_MAX_INPUT_CHANNELS)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "input spec: %d channels with colour %s and %d extra; gray takes 1 channel, the others 3, "
                       "plus the extra ones (at most %d in all)", spec->channels,
                       spec->color == FL_COLOR_GRAY ? "gray" : "rgb/bgr/gray_as_rgb", spec->extra_channels,
                       FL_MAX_INPUT_CHANNELS);
    if (!isfinite(spec->margin) || spec->margin < 0.0)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "input spec: margin %g is not a finite number >= 0",
                       spec->margin);
    for (c = 0; c < spec->channels; c++) {
        if (!isfinite(spec->mean[c]) || !isfinite(spec->std[c]) || spec->std[c] == 0.0f)
            return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                           "input spec: channel %d has mean %g, std %g; both must be finite and std non-zero", c,
                           (double)spec->mean[c], (double)spec->std[c]);
    }
    return FL_OK;
}

/* ---------------------------------------------------------------------------------
 * Step 2: colour, one row span at a time
 * ------------------------------------------------------------------------------- */

/* A pass writes either a model colour (an fl_color value, 0-3) or, with KEEP, the
 * source's own channels unchanged (the kernels that only move pixels). */
enum { KEEP = -1 };

static int mode_channels(int mode, fl_pixel_format format)
{
    return mode == KEEP ? fl_pixel_format_channels(format) : fl_color_channels((fl_color)mode);
}

/* Byte offsets of blue, green and red in one pixel of `format` (all 0 for grey). */
static void bgr_offsets(fl_pixel_format format, int *b, int *g, int *r)
{
    switch (format) {
    case FL_PIXELS_RGB:
    case FL_PIXELS_RGBA: *r = 0; *g = 1; *b = 2; return;
    case FL_PIXELS_BGR:
    case FL_PIXELS_BGRA: *b = 0; *g = 1; *r = 2; return;
    case FL_PIXELS_GRAY: break;
    }
    *b = *g = *r = 0;
}

static uint8_t luma(uint32_t b, uint32_t g, uint32_t r)
{
    return (uint8_t)((1868u * b + 9617u * g + 4899u * r + 8192u) >> 14);
}

/* `mode`'s output channels for pixels [x0, x0 + n) of `row`, interleaved into `out`. */
static void convert_span(const uint8_t *row, fl_pixel_format format, int mode, int64_t x0, int64_t n, uint8_t *out)
{
    const int in_ch = fl_pixel_format_channels(format);
    const uint8_t *p = row + (size_t)x0 * (size_t)in_ch;
    int b, g, r;
    int64_t i;
    if (mode == KEEP) {
        memcpy(out, p, (size_t)n * (size_t)in_ch);
        return;
    }
    bgr_offsets(format, &b, &g, &r);
    switch ((fl_color)mode) {
    case FL_COLOR_BGR:
        for (i = 0; i < n; i++, p += in_ch, out += 3) {
            out[0] = p[b];
            out[1] = p[g];
            out[2] = p[r];
        }
        return;
    case FL_COLOR_RGB:
        for (i = 0; i < n; i++, p += in_ch, out += 3) {
            out[0] = p[r];
            out[1] = p[g];
            out[2] = p[b];
        }
        return;
    case FL_COLOR_GRAY:
        if (format == FL_PIXELS_GRAY) {
            memcpy(out, p, (size_t)n);
            return;
        }
        for (i = 0; i < n; i++, p += in_ch)
            *out++ = luma(p[b], p[g], p[r]);
        return;
    case FL_COLOR_GRAY_AS_RGB:
        for (i = 0; i < n; i++, p += in_ch, out += 3) {
            uint8_t y = format == FL_PIXELS_GRAY ? p[0] : luma(p[b], p[g], p[r]);
            out[0] = out[1] = out[2] = y;
        }
        return;
    }
}

/* 1 when `mode` reads `format`'s bytes unchanged (a row can be used in place). */
static int mode_is_identity(int mode, fl_pixel_format format)
{
    return mode == KEEP || (mode == FL_COLOR_BGR && format == FL_PIXELS_BGR) ||
           (mode == FL_COLOR_RGB && format == FL_PIXELS_RGB) || (mode == FL_COLOR_GRAY && format == FL_PIXELS_GRAY);
}

fl_status fl_to_color(const fl_image *src, fl_color color, uint8_t *dst, size_t dst_stride, fl_error *err)
{
    fl_status st = fl_image_check(src, err);
    int y;
    if (st != FL_OK)
        return st;
    if ((unsigned)color > FL_COLOR_GRAY_AS_RGB)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_to_color: unknown colour %d", (int)color);
    if (dst == NULL || dst_stride < (size_t)src->width * (size_t)fl_color_channels(color))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_to_color: dst is NULL or its stride %zu is under a row",
                       dst_stride);
    for (y = 0; y < src->height; y++)
        convert_span(src->pixels + (size_t)y * src->stride, src->format, (int)color, 0, src->width,
                     dst + (size_t)y * dst_stride);
    return fl_ok(err);
}

/* ---------------------------------------------------------------------------------
 * Step 4: resize taps (`resize_taps`, `_area_taps`)
 * ------------------------------------------------------------------------------- */

/* Taps of one axis: output i reads index[i * count + t] with weight[i * count + t]. */
typedef struct taps {
    int32_t n;     /* outputs */
    int32_t count; /* taps per output */
    int32_t *index;
    int32_t *weight;
} taps;

/* Taps per output for resizing `src` pixels to `dst` (0 when over MAX_AXIS_TAPS). */
static int32_t tap_count(int64_t src, int64_t dst, fl_resize method)
{
    double count;
    if (method == FL_RESIZE_NEAREST)
        return 1;
    if (method != FL_RESIZE_AREA || src <= dst)
        return 2;
    count = ceil((double)src / (double)dst) + 1.0;
    if (count * (double)dst > (double)MAX_AXIS_TAPS)
        return 0;
    return (int32_t)count;
}

static void area_taps(int64_t src, int64_t dst, taps *t)
{
    const int32_t one = 1 << FL_WEIGHT_BITS;
    const double scale = (double)src / (double)dst;
    int64_t x;
    for (x = 0; x < dst; x++) {
        int32_t *idx = t->index + x * t->count, *w = t->weight + x * t->count;
        const double start = (double)x * scale, end = (double)(x + 1) * scale;
        const int64_t first = (int64_t)floor(start);
        const int64_t last = (int64_t)ceil(end) < src ? (int64_t)ceil(end) : src;
        int32_t n = 0, sum = 0, best = 0, k;
        int64_t i;
        for (i = first; i < last; i++, n++) {
            const double hi = (double)i + 1.0 < end ? (double)i + 1.0 : end;
            const double lo = (double)i > start ? (double)i : start;
            const double weight = (hi - lo) / scale;
            idx[n] = (int32_t)i;
            w[n] = (int32_t)floor(weight * (double)one + 0.5);
            sum += w[n];
            if (w[n] > w[best])
                best = n;
        }
        w[best] += one - sum;
        for (k = n; k < t->count; k++) { /* padding: weight 0 at an index already read */
            idx[k] = idx[0];
            w[k] = 0;
        }
    }
}

/* Fill `t` (count and arrays already sized) with the taps of resizing src -> dst. */
static void resize_taps(int64_t src, int64_t dst, fl_resize method, taps *t)
{
    const int32_t one = 1 << FL_WEIGHT_BITS;
    const double scale = (double)src / (double)dst;
    int64_t x;
    t->n = (int32_t)dst;
    if (method == FL_RESIZE_NEAREST) {
        for (x = 0; x < dst; x++) {
            const int64_t i = (int64_t)floor(((double)x + 0.5) * scale);
            t->index[x] = (int32_t)(i < src - 1 ? i : src - 1);
            t->weight[x] = one;
        }
        return;
    }
    if (method == FL_RESIZE_AREA && src > dst) {
        area_taps(src, dst, t);
        return;
    }
    for (x = 0; x < dst; x++) {
        const double f = ((double)x + 0.5) * scale - 0.5;
        const double fi = floor(f);
        double a = f - fi;
        int64_t i0 = (int64_t)fi;
        int32_t w1;
        if (i0 < 0) {
            i0 = 0;
            a = 0.0;
        } else if (i0 >= src - 1) {
            i0 = src - 1;
            a = 0.0;
        }
        w1 = (int32_t)floor(a * (double)one + 0.5);
        t->index[2 * x] = (int32_t)i0;
        t->index[2 * x + 1] = (int32_t)(i0 + 1 < src - 1 ? i0 + 1 : src - 1);
        t->weight[2 * x] = one - w1;
        t->weight[2 * x + 1] = w1;
    }
}

/* Row and column taps for src_h x src_w -> dst_h x dst_w, in the scratch's table. */
static fl_status make_taps(fl_scratch *s, int64_t src_h, int64_t src_w, int dst_h, int dst_w, fl_resize method,
                           taps *rows, taps *cols, fl_error *err)
{
    const int32_t ty = tap_count(src_h, dst_h, method), tx = tap_count(src_w, dst_w, method);
    size_t ny, nx;
    if ((unsigned)method > FL_RESIZE_NEAREST)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "unknown resize method %d", (int)method);
    if (ty == 0 || tx == 0)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "an 'area' resize from %lldx%lld to %dx%d pixels needs over %zu taps per axis; "
                       "downscale the image first",
                       (long long)src_w, (long long)src_h, dst_w, dst_h, MAX_AXIS_TAPS);
    ny = (size_t)dst_h * (size_t)ty;
    nx = (size_t)dst_w * (size_t)tx;
    if (!fl_buffer_reserve((void **)&s->taps, &s->taps_capacity, 2 * (ny + nx) * sizeof(int32_t)))
        return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for resize taps (%dx%d)", dst_w, dst_h);
    rows->count = ty;
    rows->index = s->taps;
    rows->weight = s->taps + ny;
    cols->count = tx;
    cols->index = s->taps + 2 * ny;
    cols->weight = s->taps + 2 * ny + nx;
    resize_taps(src_h, dst_h, method, rows);
    resize_taps(src_w, dst_w, method, cols);
    return FL_OK;
}

/* Shift every index of `t` by `offset` and clamp it into [0, n) (a crop's edge pixels). */
static void offset_taps(taps *t, int64_t offset, int64_t n)
{
    size_t i, total = (size_t)t->n * (size_t)t->count;
    for (i = 0; i < total; i++)
        t->index[i] = (int32_t)clamp64(offset + t->index[i], 0, n - 1);
}

/* ---------------------------------------------------------------------------------
 * The resize sum over explicit taps (`_apply_taps` / `_resample`)
 * ------------------------------------------------------------------------------- */

/*
 * dst (rows->n x cols->n x mode's channels, rows `dst_stride` apart) = Σ_y Σ_x wy wx p,
 * then (acc + 2^21) >> 22, with p the source pixels in `mode`'s colours. Taps index the
 * source image directly (already clamped). Colour is converted per source row, only over
 * the columns some tap reads.
 */
#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline)) inline
#else
#define ALWAYS_INLINE inline
#endif

/* One output row of the two-tap case: channel c of output pixel x reads byte
 * (index - first) * step + offset[c] of rows r0 and r1; `repeat` copies of each value. The
 * sum is the general kernel's, in the same uint32 arithmetic (wrapping sums do not depend
 * on their order), so the bytes are the same. Inlined with constant `n` and `repeat`. */
static ALWAYS_INLINE uint8_t bilinear_value(const uint8_t *r0, const uint8_t *r1, size_t i0, size_t i1, uint32_t w0,
                                            uint32_t w1, uint32_t wy0, uint32_t wy1)
{
    const uint32_t top = w0 * r0[i0] + w1 * r0[i1];
    const uint32_t bottom = w0 * r1[i0] + w1 * r1[i1];
    const uint32_t acc = wy0 * top + wy1 * bottom;
    return (uint8_t)(((acc + (1u << (2 * FL_WEIGHT_BITS - 1))) >> (2 * FL_WEIGHT_BITS)) & 0xFFu);
}

static ALWAYS_INLINE void bilinear_row(const uint8_t *r0, const uint8_t *r1, uint32_t wy0, uint32_t wy1,
                                       const taps *cols, int32_t first, size_t step, const int *offset, int n,
                                       int repeat, uint8_t *out)
{
    const int32_t *ci = cols->index, *cw = cols->weight;
    const size_t o0 = (size_t)offset[0], o1 = (size_t)offset[1], o2 = (size_t)offset[2];
    int32_t x;
    int c, r;
    for (x = 0; x < cols->n; x++) {
        const size_t i0 = (size_t)(ci[2 * x] - first) * step, i1 = (size_t)(ci[2 * x + 1] - first) * step;
        const uint32_t w0 = (uint32_t)cw[2 * x], w1 = (uint32_t)cw[2 * x + 1];
        if (n == 3 && repeat == 1) {
            out[0] = bilinear_value(r0, r1, i0 + o0, i1 + o0, w0, w1, wy0, wy1);
            out[1] = bilinear_value(r0, r1, i0 + o1, i1 + o1, w0, w1, wy0, wy1);
            out[2] = bilinear_value(r0, r1, i0 + o2, i1 + o2, w0, w1, wy0, wy1);
            out += 3;
        } else if (n == 1) {
            const uint8_t v = bilinear_value(r0, r1, i0 + o0, i1 + o0, w0, w1, wy0, wy1);
            for (r = 0; r < repeat; r++)
                *out++ = v;
        } else {
            for (c = 0; c < n; c++)
                *out++ = bilinear_value(r0, r1, i0 + (size_t)offset[c], i1 + (size_t)offset[c], w0, w1, wy0, wy1);
        }
    }
}

/* A source row's luma over columns [cmin, cmin + span), from the two-row cache `cached`
 * (source row held by each half of `buffer`, -1 for none), converting it when absent
 * into the half that does not hold `keep`. */
static const uint8_t *luma_row(const fl_image *src, int32_t row, int32_t keep, int32_t cmin, int64_t span,
                               uint8_t *buffer, int32_t cached[2])
{
    int slot;
    if (cached[0] == row)
        return buffer;
    if (cached[1] == row)
        return buffer + span;
    slot = cached[0] == keep ? 1 : 0;
    convert_span(src->pixels + (size_t)row * src->stride, src->format, FL_COLOR_GRAY, cmin, span,
                 buffer + slot * span);
    cached[slot] = row;
    return buffer + slot * span;
}

/*
 * `resample` with two taps per axis (bilinear, and area when enlarging): each output byte
 * straight from its four source bytes, the colour picked by byte offset (BGR/RGB are a
 * channel order; grey is converted per source row once, resized as one channel, then
 * repeated for gray_as_rgb, as `facelite.preprocess._resample` does). Returns 0 for the
 * formats it does not cover (the general kernel does them).
 */
static int resample_two_taps(const fl_image *src, int mode, const taps *rows, const taps *cols, uint8_t *dst,
                             size_t dst_stride, int32_t cmin, int64_t span, fl_scratch *s)
{
    const int in_ch = fl_pixel_format_channels(src->format);
    const int gray = mode == FL_COLOR_GRAY || mode == FL_COLOR_GRAY_AS_RGB;
    const int repeat = mode == FL_COLOR_GRAY_AS_RGB ? 3 : 1;
    int offset[4] = {0, 1, 2, 3}, n = in_ch, b, g, r;
    int32_t cached[2] = {-1, -1}, y;
    if (rows->count != 2 || cols->count != 2)
        return 0;
    if (gray) {
        n = 1;
        offset[0] = 0;
        if (src->format != FL_PIXELS_GRAY &&
            !fl_buffer_reserve((void **)&s->row, &s->row_capacity, 2 * (size_t)span))
            return 0;
    } else if (mode != KEEP) {
        bgr_offsets(src->format, &b, &g, &r);
        n = 3;
        offset[0] = mode == FL_COLOR_BGR ? b : r;
        offset[1] = g;
        offset[2] = mode == FL_COLOR_BGR ? r : b;
    }
    for (y = 0; y < rows->n; y++) {
        const int32_t y0 = rows->index[2 * y], y1 = rows->index[2 * y + 1];
        const uint32_t wy0 = (uint32_t)rows->weight[2 * y], wy1 = (uint32_t)rows->weight[2 * y + 1];
        uint8_t *out = dst + (size_t)y * dst_stride;
        if (gray && src->format != FL_PIXELS_GRAY) {
            const uint8_t *l0 = luma_row(src, y0, y1, cmin, span, s->row, cached);
            const uint8_t *l1 = luma_row(src, y1, y0, cmin, span, s->row, cached);
            if (repeat == 3)
                bilinear_row(l0, l1, wy0, wy1, cols, cmin, 1, offset, 1, 3, out);
            else
                bilinear_row(l0, l1, wy0, wy1, cols, cmin, 1, offset, 1, 1, out);
            continue;
        }
        {
            const uint8_t *r0 = src->pixels + (size_t)y0 * src->stride, *r1 = src->pixels + (size_t)y1 * src->stride;
            if (n == 3 && in_ch == 3)
                bilinear_row(r0, r1, wy0, wy1, cols, 0, 3, offset, 3, 1, out);
            else if (n == 3 && in_ch == 4)
                bilinear_row(r0, r1, wy0, wy1, cols, 0, 4, offset, 3, 1, out);
            else if (n == 1 && repeat == 3)
                bilinear_row(r0, r1, wy0, wy1, cols, 0, (size_t)in_ch, offset, 1, 3, out);
            else if (n == 1)
                bilinear_row(r0, r1, wy0, wy1, cols, 0, (size_t)in_ch, offset, 1, 1, out);
            else
                bilinear_row(r0, r1, wy0, wy1, cols, 0, (size_t)in_ch, offset, n, 1, out);
        }
    }
    return 1;
}

static fl_status resample(const fl_image *src, int mode, const taps *rows, const taps *cols, uint8_t *dst,
                          size_t dst_stride, fl_scratch *s, fl_error *err)
{
    const int ch = mode_channels(mode, src->format);
    const int in_ch = fl_pixel_format_channels(src->format);
    const int identity = mode_is_identity(mode, src->format);
    const size_t out_w = (size_t)cols->n;
    size_t i, total = out_w * (size_t)cols->count;
    int32_t cmin = cols->index[0], cmax = cols->index[0];
    int64_t span;
    int32_t y;
    for (i = 1; i < total; i++) {
        if (cols->index[i] < cmin)
            cmin = cols->index[i];
        if (cols->index[i] > cmax)
            cmax = cols->index[i];
    }
    span = (int64_t)cmax - cmin + 1;
    if (resample_two_taps(src, mode, rows, cols, dst, dst_stride, cmin, span, s))
        return FL_OK;
    if (!fl_buffer_reserve((void **)&s->acc, &s->acc_capacity, out_w * (size_t)ch * sizeof(uint32_t)) ||
        (!identity && !fl_buffer_reserve((void **)&s->row, &s->row_capacity, (size_t)span * (size_t)ch)))
        return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for a resize row (%zu pixels)", out_w);
    for (y = 0; y < rows->n; y++) {
        uint32_t *acc = s->acc;
        uint8_t *out = dst + (size_t)y * dst_stride;
        int32_t t;
        memset(acc, 0, out_w * (size_t)ch * sizeof(uint32_t));
        for (t = 0; t < rows->count; t++) {
            const uint32_t wy = (uint32_t)rows->weight[y * rows->count + t];
            const uint8_t *line = src->pixels + (size_t)rows->index[y * rows->count + t] * src->stride;
            const uint8_t *base; /* pixel cmin of the row, in the output's colours */
            size_t x;
            if (wy == 0)
                continue;
            if (identity) {
                base = line + (size_t)cmin * (size_t)in_ch;
            } else {
                convert_span(line, src->format, mode, cmin, span, s->row);
                base = s->row;
            }
            for (x = 0; x < out_w; x++) {
                const int32_t *ci = cols->index + x * (size_t)cols->count;
                const int32_t *cw = cols->weight + x * (size_t)cols->count;
                uint32_t h[4] = {0, 0, 0, 0};
                int32_t k;
                int c;
                for (k = 0; k < cols->count; k++) {
                    const uint8_t *p = base + (size_t)(ci[k] - cmin) * (size_t)ch;
                    const uint32_t wx = (uint32_t)cw[k];
                    for (c = 0; c < ch; c++)
                        h[c] += wx * p[c];
                }
                for (c = 0; c < ch; c++)
                    acc[x * (size_t)ch + (size_t)c] += wy * h[c];
            }
        }
        for (i = 0; i < out_w * (size_t)ch; i++) /* bits 22..29 of acc + 2^21: (acc + 2^21) >> 22 as uint8 */
            out[i] = (uint8_t)(((acc[i] + (1u << (2 * FL_WEIGHT_BITS - 1))) >> (2 * FL_WEIGHT_BITS)) & 0xFFu);
    }
    return FL_OK;
}

static fl_status check_dst(const char *what, const uint8_t *dst, size_t dst_stride, int width, int height, int ch,
                           fl_error *err)
{
    if (!check_out_size(width, height))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "%s: output size %dx%d is outside 1..%d per side", what, width,
                       height, FL_MAX_OUTPUT_SIDE);
    if (dst == NULL || dst_stride < (size_t)width * (size_t)ch)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "%s: dst is NULL or its stride %zu is under a row of %d bytes",
                       what, dst_stride, width * ch);
    return FL_OK;
}

fl_status fl_resize_pixels(const fl_image *src, int width, int height, fl_resize method, uint8_t *dst,
                           size_t dst_stride, fl_scratch *scratch, fl_error *err)
{
    fl_scratch *s;
    taps rows, cols;
    fl_status st = fl_image_check(src, err);
    if (st == FL_OK)
        st = check_dst("fl_resize_pixels", dst, dst_stride, width, height, fl_pixel_format_channels(src->format), err);
    if (st != FL_OK)
        return st;
    if ((st = begin_scratch(scratch, &s, err)) != FL_OK)
        return st;
    st = make_taps(s, src->height, src->width, height, width, method, &rows, &cols, err);
    if (st == FL_OK)
        st = resample(src, KEEP, &rows, &cols, dst, dst_stride, s, err);
    end_scratch(scratch, s);
    return st == FL_OK ? fl_ok(err) : st;
}

/* ---------------------------------------------------------------------------------
 * Step 3: geometry
 * ------------------------------------------------------------------------------- */

fl_status fl_letterbox_params(int image_width, int image_height, int width, int height, fl_letterbox_geometry *out,
                              fl_error *err)
{
    double scale, sx, sy;
    int64_t new_w, new_h;
    if (out == NULL || image_width < 1 || image_height < 1 || !check_out_size(width, height))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_letterbox_params: cannot fit %dx%d into %dx%d", image_width,
                       image_height, width, height);
    sx = (double)width / (double)image_width;
    sy = (double)height / (double)image_height;
    scale = sy < sx ? sy : sx; /* Python's min(sx, sy) */
    new_w = clamp64((int64_t)round_half_up((double)image_width * scale), 1, width);
    new_h = clamp64((int64_t)round_half_up((double)image_height * scale), 1, height);
    out->scale = scale;
    out->new_width = (int)new_w;
    out->new_height = (int)new_h;
    out->pad_x = (width - out->new_width) / 2;
    out->pad_y = (height - out->new_height) / 2;
    return fl_ok(err);
}

/* Fill rows [0, height) of a width x ch canvas with the letterbox fill. */
static void fill_canvas(uint8_t *dst, size_t dst_stride, int width, int height, int ch)
{
    int y;
    for (y = 0; y < height; y++)
        memset(dst + (size_t)y * dst_stride, FL_LETTERBOX_FILL, (size_t)width * (size_t)ch);
}

/* Letterbox `src` in `mode`'s colours onto the caller's canvas. */
static fl_status letterbox_into(const fl_image *src, int mode, int width, int height, fl_resize method, uint8_t *dst,
                                size_t dst_stride, fl_letterbox_geometry *g, fl_scratch *s, fl_error *err)
{
    const int ch = mode_channels(mode, src->format);
    taps rows, cols;
    fl_status st = fl_letterbox_params(src->width, src->height, width, height, g, err);
    if (st != FL_OK)
        return st;
    st = make_taps(s, src->height, src->width, g->new_height, g->new_width, method, &rows, &cols, err);
    if (st != FL_OK)
        return st;
    fill_canvas(dst, dst_stride, width, height, ch);
    return resample(src, mode, &rows, &cols, dst + (size_t)g->pad_y * dst_stride + (size_t)g->pad_x * (size_t)ch,
                    dst_stride, s, err);
}

fl_status fl_letterbox(const fl_image *src, int width, int height, fl_resize method, uint8_t *dst, size_t dst_stride,
                       fl_letterbox_geometry *geometry, fl_scratch *scratch, fl_error *err)
{
    fl_letterbox_geometry g;
    fl_scratch *s;
    fl_status st = fl_image_check(src, err);
    if (st == FL_OK)
        st = check_dst("fl_letterbox", dst, dst_stride, width, height, fl_pixel_format_channels(src->format), err);
    if (st != FL_OK)
        return st;
    if ((st = begin_scratch(scratch, &s, err)) != FL_OK)
        return st;
    st = letterbox_into(src, KEEP, width, height, method, dst, dst_stride, &g, s, err);
    end_scratch(scratch, s);
    if (st != FL_OK)
        return st;
    if (geometry != NULL)
        *geometry = g;
    return fl_ok(err);
}

/* A double known to be an integer, as int64, saturated at +-2^62 (far past any image). */
static int64_t to_int64(double v)
{
    const double limit = 4611686018427387904.0; /* 2^62 */
    return v <= -limit ? -(int64_t)4611686018427387904LL : (v >= limit ? (int64_t)4611686018427387904LL : (int64_t)v);
}

fl_status fl_square_crop_of(const double box[4], double margin, int image_width, int image_height,
                            fl_square_crop *out, fl_error *err)
{
    double x, y, w, h, side, x0, y0, side_px;
    int64_t longer, limit;
    if (box == NULL || out == NULL || image_width < 1 || image_height < 1)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_square_crop_of: NULL box or output, or an empty image");
    x = box[0];
    y = box[1];
    w = box[2];
    h = box[3];
    side = (h > w ? h : w) * (1.0 + 2.0 * margin); /* Python's max(w, h) */
    x0 = (x + w / 2.0) - side / 2.0;
    y0 = (y + h / 2.0) - side / 2.0;
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(side))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "face box (%g, %g, %g, %g) is not finite; pass (x, y, w, h) in pixels", x, y, w, h);
    side_px = round_half_up(side);
    longer = image_width > image_height ? image_width : image_height;
    limit = (int64_t)FL_MAX_CROP_FACTOR * longer;
    if (side_px > (double)limit)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "face box (%g, %g, %g, %g) makes a %.0f-pixel crop, over %dx the image's longer side (%lld); "
                       "pass a box inside the image",
                       x, y, w, h, side_px, FL_MAX_CROP_FACTOR, (long long)longer);
    out->x0 = to_int64(round_half_up(x0));
    out->y0 = to_int64(round_half_up(y0));
    out->side = side_px < 1.0 ? 1 : (int64_t)side_px;
    return fl_ok(err);
}

fl_status fl_crop_square(const fl_image *src, const fl_square_crop *crop, uint8_t *dst, size_t dst_stride,
                         fl_error *err)
{
    const int ch = fl_pixel_format_channels(src != NULL ? src->format : (fl_pixel_format)0);
    fl_status st = fl_image_check(src, err);
    int64_t i, j;
    if (st != FL_OK)
        return st;
    if (crop == NULL || crop->side < 1 ||
        crop->side > (int64_t)FL_MAX_CROP_FACTOR * (src->width > src->height ? src->width : src->height))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_crop_square: crop is NULL or its side is out of range");
    if (dst == NULL || dst_stride < (size_t)crop->side * (size_t)ch)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_crop_square: dst is NULL or its stride is under a row");
    for (i = 0; i < crop->side; i++) {
        const uint8_t *line = src->pixels + (size_t)clamp64(crop->y0 + i, 0, src->height - 1) * src->stride;
        uint8_t *out = dst + (size_t)i * dst_stride;
        for (j = 0; j < crop->side; j++, out += ch)
            memcpy(out, line + (size_t)clamp64(crop->x0 + j, 0, src->width - 1) * (size_t)ch, (size_t)ch);
    }
    return fl_ok(err);
}

/* floor(v * 1024 + 0.5) as int64, or INT64_MIN where it is NaN or out of int64's range,
 * which is what the reference's numpy cast gives there (x86). */
static ALWAYS_INLINE int64_t warp_fixed(double v)
{
    const double r = v * (double)(1 << FL_WARP_BITS) + 0.5;
    double q;
    if (r > -4.0e18 && r < 4.0e18) { /* floor without a libm call: truncate, then step down */
        const int64_t i = (int64_t)r;
        return (double)i > r ? i - 1 : i;
    }
    q = floor(r);
    if (!(q >= -9223372036854775808.0 && q < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)q;
}

/* x >> FL_WARP_BITS with floor semantics for negatives, without relying on >> of a negative. */
static ALWAYS_INLINE int64_t floor_shift(int64_t v)
{
    return v >= 0 ? v >> FL_WARP_BITS : -(int64_t)((((uint64_t)-(v + 1)) >> FL_WARP_BITS) + 1);
}

/* fl_warp_affine's pixels, the inverse matrix (a b tx; c d ty) given; inlined with a
 * constant `ch` for the common channel counts. */
static ALWAYS_INLINE void warp_pixels(const fl_image *src, double a, double b, double c, double d, double tx,
                                      double ty, int width, int height, int ch, uint8_t *dst, size_t dst_stride)
{
    const int64_t one = 1 << FL_WARP_BITS;
    int x, y, k;
    for (y = 0; y < height; y++) {
        const double ys = (double)y + 0.5;
        const double bys = b * ys, dys = d * ys;
        uint8_t *out = dst + (size_t)y * dst_stride;
        for (x = 0; x < width; x++, out += ch) {
            const double xs = (double)x + 0.5;
            const int64_t u = warp_fixed(a * xs + bys + tx - 0.5);
            const int64_t v = warp_fixed(c * xs + dys + ty - 0.5);
            const int64_t x0 = floor_shift(u), y0 = floor_shift(v);
            const uint32_t fx = (uint32_t)(u & (one - 1)), fy = (uint32_t)(v & (one - 1));
            const size_t cx0 = (size_t)clamp64(x0, 0, src->width - 1), cx1 = (size_t)clamp64(x0 + 1, 0, src->width - 1);
            const uint8_t *r0 = src->pixels + (size_t)clamp64(y0, 0, src->height - 1) * src->stride;
            const uint8_t *r1 = src->pixels + (size_t)clamp64(y0 + 1, 0, src->height - 1) * src->stride;
            for (k = 0; k < ch; k++) {
                const uint32_t top = (uint32_t)(one - fx) * r0[cx0 * ch + k] + fx * r0[cx1 * ch + k];
                const uint32_t bottom = (uint32_t)(one - fx) * r1[cx0 * ch + k] + fx * r1[cx1 * ch + k];
                const uint32_t acc = top * (uint32_t)(one - fy) + bottom * fy;
                out[k] = (uint8_t)((acc + (1u << (2 * FL_WARP_BITS - 1))) >> (2 * FL_WARP_BITS));
            }
        }
    }
}

fl_status fl_warp_affine(const fl_image *src, const double m[6], int width, int height, uint8_t *dst,
                         size_t dst_stride, fl_error *err)
{
    int ch;
    double det, a, b, c, d, tx, ty;
    int k;
    fl_status st = fl_image_check(src, err);
    if (st != FL_OK)
        return st;
    ch = fl_pixel_format_channels(src->format);
    if ((st = check_dst("fl_warp_affine", dst, dst_stride, width, height, ch, err)) != FL_OK)
        return st;
    if (m == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_warp_affine: matrix is NULL");
    for (k = 0; k < 6; k++)
        if (!isfinite(m[k]))
            return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_warp_affine: matrix entry %d is not finite", k);
    det = m[0] * m[4] - m[1] * m[3];
    if (det == 0.0)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_warp_affine: affine matrix is singular");
    a = m[4] / det;
    b = -m[1] / det;
    c = -m[3] / det;
    d = m[0] / det;
    tx = -(a * m[2] + b * m[5]);
    ty = -(c * m[2] + d * m[5]);
    if (ch == 3)
        warp_pixels(src, a, b, c, d, tx, ty, width, height, 3, dst, dst_stride);
    else if (ch == 4)
        warp_pixels(src, a, b, c, d, tx, ty, width, height, 4, dst, dst_stride);
    else
        warp_pixels(src, a, b, c, d, tx, ty, width, height, ch, dst, dst_stride);
    return fl_ok(err);
}

/* ---------------------------------------------------------------------------------
 * Steps 5 and 6
 * ------------------------------------------------------------------------------- */

fl_status fl_normalize(const uint8_t *pixels, size_t pixel_count, const fl_input_spec *spec, float *out,
                       fl_error *err)
{
    size_t i;
    int c, ch;
    if (spec == NULL || (pixel_count > 0 && (pixels == NULL || out == NULL)))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_normalize: NULL pixels, spec or output");
    ch = spec->channels;
    if (ch < 1 || ch > FL_MAX_INPUT_CHANNELS)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_normalize: %d channels; the spec allows 1 to %d", ch,
                       FL_MAX_INPUT_CHANNELS);
    for (i = 0; i < pixel_count; i++)
        for (c = 0; c < ch; c++)
            out[i * (size_t)ch + (size_t)c] = ((float)pixels[i * (size_t)ch + (size_t)c] - spec->mean[c]) / spec->std[c];
    return fl_ok(err);
}

fl_status fl_quantize(const float *x, size_t count, float scale, int64_t zero_point, fl_dtype dtype, void *out,
                      fl_error *err)
{
    double qmin, qmax;
    const float zp = (float)zero_point;
    size_t i;
    switch (dtype) {
    case FL_DTYPE_INT8: qmin = INT8_MIN; qmax = INT8_MAX; break;
    case FL_DTYPE_UINT8: qmin = 0; qmax = UINT8_MAX; break;
    case FL_DTYPE_INT16: qmin = INT16_MIN; qmax = INT16_MAX; break;
    case FL_DTYPE_INT32: qmin = INT32_MIN; qmax = INT32_MAX; break;
    default:
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_quantize: cannot quantize to %s; use int8, uint8, int16 or int32",
                       fl_dtype_name(dtype));
    }
    if (count > 0 && (x == NULL || out == NULL))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_quantize: NULL input or output");
    if (!isfinite(scale) || scale == 0.0f)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_quantize: scale %g must be finite and non-zero", (double)scale);
    for (i = 0; i < count; i++) {
        const float q = nearbyintf(x[i] / scale) + zp;
        double v = isnan(q) ? 0.0 : (double)q;
        v = v < qmin ? qmin : (v > qmax ? qmax : v);
        switch (dtype) {
        case FL_DTYPE_INT8: ((int8_t *)out)[i] = (int8_t)v; break;
        case FL_DTYPE_UINT8: ((uint8_t *)out)[i] = (uint8_t)v; break;
        case FL_DTYPE_INT16: ((int16_t *)out)[i] = (int16_t)v; break;
        default: ((int32_t *)out)[i] = (int32_t)v; break;
        }
    }
    return fl_ok(err);
}

fl_status fl_dequantize(const void *q, size_t count, fl_dtype dtype, float scale, int64_t zero_point, float *out,
                        fl_error *err)
{
    const float zp = (float)zero_point;
    size_t i;
    if (count > 0 && (q == NULL || out == NULL))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_dequantize: NULL input or output");
    for (i = 0; i < count; i++) {
        float v;
        switch (dtype) {
        case FL_DTYPE_INT8: v = (float)((const int8_t *)q)[i]; break;
        case FL_DTYPE_UINT8: v = (float)((const uint8_t *)q)[i]; break;
        case FL_DTYPE_INT16: v = (float)((const int16_t *)q)[i]; break;
        case FL_DTYPE_INT32: v = (float)((const int32_t *)q)[i]; break;
        default:
            return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                           "fl_dequantize: cannot dequantize %s; use int8, uint8, int16 or int32", fl_dtype_name(dtype));
        }
        out[i] = (v - zp) * scale;
    }
    return fl_ok(err);
}

/* ---------------------------------------------------------------------------------
 * Steps 2-5 together (`prepare_pixels`, `prepare`)
 * ------------------------------------------------------------------------------- */

static fl_status prepare_into(const fl_image *src, const fl_input_spec *spec, const double box[4], uint8_t *out,
                              fl_placement *placement, fl_scratch *s, fl_error *err)
{
    const size_t stride = (size_t)spec->width * (size_t)spec->channels;
    const int mode = (int)spec->color;
    fl_placement where;
    taps rows, cols;
    fl_status st;
    if (spec->crop == FL_CROP_FACE && box != NULL) {
        fl_square_crop sq;
        if ((st = fl_square_crop_of(box, spec->margin, src->width, src->height, &sq, err)) != FL_OK)
            return st;
        if ((st = make_taps(s, sq.side, sq.side, spec->height, spec->width, spec->resize, &rows, &cols, err)) != FL_OK)
            return st;
        offset_taps(&rows, sq.y0, src->height);
        offset_taps(&cols, sq.x0, src->width);
        where.origin_x = (double)sq.x0;
        where.origin_y = (double)sq.y0;
        where.step_x = (double)sq.side / (double)spec->width;
        where.step_y = (double)sq.side / (double)spec->height;
        st = resample(src, mode, &rows, &cols, out, stride, s, err);
    } else if (spec->crop == FL_CROP_LETTERBOX) {
        fl_letterbox_geometry g;
        if ((st = letterbox_into(src, mode, spec->width, spec->height, spec->resize, out, stride, &g, s, err)) != FL_OK)
            return st;
        where.origin_x = (double)-g.pad_x / g.scale;
        where.origin_y = (double)-g.pad_y / g.scale;
        where.step_x = 1.0 / g.scale;
        where.step_y = 1.0 / g.scale;
    } else {
        if ((st = make_taps(s, src->height, src->width, spec->height, spec->width, spec->resize, &rows, &cols, err)) !=
            FL_OK)
            return st;
        where.origin_x = 0.0;
        where.origin_y = 0.0;
        where.step_x = (double)src->width / (double)spec->width;
        where.step_y = (double)src->height / (double)spec->height;
        st = resample(src, mode, &rows, &cols, out, stride, s, err);
    }
    if (st == FL_OK && placement != NULL)
        *placement = where;
    return st;
}

fl_status fl_prepare_pixels(const fl_image *src, const fl_input_spec *spec, const double box[4], uint8_t *out_pixels,
                            fl_placement *placement, fl_scratch *scratch, fl_error *err)
{
    fl_scratch *s;
    fl_status st = fl_image_check(src, err);
    if (st == FL_OK)
        st = fl_input_spec_check(spec, err);
    if (st == FL_OK && spec->extra_channels)
        st = fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_prepare_pixels: the spec has %d extra channels, which its "
                     "task fills (docs/skin.md); preprocessing makes colour channels only", spec->extra_channels);
    if (st != FL_OK)
        return st;
    if (out_pixels == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_prepare_pixels: out_pixels is NULL");
    if ((st = begin_scratch(scratch, &s, err)) != FL_OK)
        return st;
    st = prepare_into(src, spec, box, out_pixels, placement, s, err);
    end_scratch(scratch, s);
    return st == FL_OK ? fl_ok(err) : st;
}

fl_status fl_prepare(const fl_image *src, const fl_input_spec *spec, const double box[4], float *out_tensor,
                     fl_placement *placement, fl_scratch *scratch, fl_error *err)
{
    fl_scratch *s;
    size_t count;
    fl_status st = fl_image_check(src, err);
    if (st == FL_OK)
        st = fl_input_spec_check(spec, err);
    if (st == FL_OK && spec->extra_channels)
        st = fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_prepare: the spec has %d extra channels, which its task "
                     "fills (docs/skin.md); preprocessing makes colour channels only", spec->extra_channels);
    if (st != FL_OK)
        return st;
    if (out_tensor == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_prepare: out_tensor is NULL");
    if ((st = begin_scratch(scratch, &s, err)) != FL_OK)
        return st;
    count = (size_t)spec->height * (size_t)spec->width;
    if (!fl_buffer_reserve((void **)&s->pixels, &s->pixels_capacity, count * (size_t)spec->channels))
        st = fl_fail(err, FL_ERR_NO_MEMORY, "fl_prepare: out of memory for %dx%d pixels", spec->width, spec->height);
    if (st == FL_OK)
        st = prepare_into(src, spec, box, s->pixels, placement, s, err);
    if (st == FL_OK)
        st = fl_normalize(s->pixels, count, spec, out_tensor, err);
    end_scratch(scratch, s);
    return st == FL_OK ? fl_ok(err) : st;
}
