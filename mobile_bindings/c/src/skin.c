/* skin.c: acne severity and "redness v1" (skin.h, docs/skin.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "skin.h"
#include "buffer.h"
#include "status.h"

/* Bits of the mask: one per region in fl_region_name order; the skin regions of the
 * face's redness (SKIN_REGIONS: forehead, nose, both cheeks, chin). */
#define SKIN_BITS ((uint8_t)((1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 6)))

void fl_redness_init(fl_redness *r)
{
    for (int c = 0; c < 256; c++) {
        const double v = (double)c / 255.0;
        r->linear[c] = v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
    }
    r->mask = NULL;
    r->capacity = 0;
}

void fl_redness_release(fl_redness *r)
{
    free(r->mask);
    r->mask = NULL;
    r->capacity = 0;
}

/* docs/skin.md 2.3: the cube root by two Halley steps from a cubic guess. */
static double spec_cbrt(double t)
{
    double s_in = 1.0, s_out = 1.0;
    if (t < 0.015625) s_in = 64.0, s_out = 0.25;
    else if (t < 0.125) s_in = 8.0, s_out = 0.5;
    const double u = t * s_in;
    double y = 0.3552 + u * (1.3544 + u * (-1.1862 + u * 0.4811));
    for (int k = 0; k < 2; k++) {
        const double y3 = y * y * y;
        y = y - (y * (y3 - u)) / (2.0 * y3 + u);
    }
    return y * s_out;
}

static double lab_f(double t)
{
    const double d = 6.0 / 29.0;
    return t > d * d * d ? spec_cbrt(t) : t / (3.0 * (d * d)) + 4.0 / 29.0;
}

double fl_a_star(const fl_redness *r, uint8_t red, uint8_t green, uint8_t blue)
{
    const double x_white = 0.4124564 + 0.3575761 + 0.1804375, y_white = 0.2126729 + 0.7151522 + 0.0721750;
    const double lr = r->linear[red], lg = r->linear[green], lb = r->linear[blue];
    const double x = (0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / x_white;
    const double y = (0.2126729 * lr + 0.7151522 * lg + 0.0721750 * lb) / y_white;
    return 500.0 * (lab_f(x) - lab_f(y));
}

/* Byte offsets of R, G, B within a pixel of `format` (grey: all 0). */
static void channel_offsets(fl_pixel_format format, int *red, int *green, int *blue)
{
    int bgr = format == FL_PIXELS_BGR || format == FL_PIXELS_BGRA;
    *green = format == FL_PIXELS_GRAY ? 0 : 1;
    *red = format == FL_PIXELS_GRAY ? 0 : bgr ? 2 : 0;
    *blue = format == FL_PIXELS_GRAY ? 0 : bgr ? 0 : 2;
}

fl_status fl_face_redness(fl_redness *r, const fl_image *image, const float regions[2 * FL_REGION_POINTS_TOTAL],
                          fl_skin *out, fl_error *err)
{
    fl_pixel_box boxes[FL_REGION_COUNT], all = {0, 0, 0, 0};
    int any = 0;
    for (size_t k = 0; k < FL_REGION_COUNT; k++) {
        boxes[k] = fl_polygon_box(regions + 2 * fl_region_offset(k), fl_region_points(k), image->width,
                                  image->height);
        const fl_pixel_box *b = &boxes[k];
        if (b->x1 <= b->x0 || b->y1 <= b->y0) continue;
        if (!any) all = *b;
        all.x0 = b->x0 < all.x0 ? b->x0 : all.x0, all.y0 = b->y0 < all.y0 ? b->y0 : all.y0;
        all.x1 = b->x1 > all.x1 ? b->x1 : all.x1, all.y1 = b->y1 > all.y1 ? b->y1 : all.y1;
        any = 1;
    }
    double sums[FL_REGION_COUNT] = {0}, skin_sum = 0.0;
    size_t counts[FL_REGION_COUNT] = {0}, skin_count = 0;
    if (any) {
        const size_t stride = (size_t)(all.x1 - all.x0), rows = (size_t)(all.y1 - all.y0);
        if (!fl_buffer_reserve((void **)&r->mask, &r->capacity, stride * rows))
            return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for a %zux%zu skin mask", stride, rows);
        memset(r->mask, 0, stride * rows);
        for (size_t k = 0; k < FL_REGION_COUNT; k++) {
            const fl_pixel_box b = boxes[k];
            if (b.x1 <= b.x0 || b.y1 <= b.y0) continue;
            uint8_t *at = r->mask + (size_t)(b.y0 - all.y0) * stride + (size_t)(b.x0 - all.x0);
            fl_polygon_rasterize(regions + 2 * fl_region_offset(k), fl_region_points(k), b, at, stride,
                                 (uint8_t)(1u << k));
        }
        const size_t bpp = (size_t)fl_pixel_format_channels(image->format);
        int ro, go, bo;
        channel_offsets(image->format, &ro, &go, &bo);
        for (size_t y = 0; y < rows; y++) {
            const uint8_t *bits = r->mask + y * stride;
            const uint8_t *px = image->pixels + ((size_t)all.y0 + y) * image->stride + (size_t)all.x0 * bpp;
            for (size_t x = 0; x < stride; x++, px += bpp) {
                if (bits[x] == 0) continue;
                const double a = fl_a_star(r, px[ro], px[go], px[bo]);
                for (size_t k = 0; k < FL_REGION_COUNT; k++)
                    if (bits[x] & (1u << k)) sums[k] += a, counts[k]++;
                if (bits[x] & SKIN_BITS) skin_sum += a, skin_count++;
            }
        }
    }
    for (size_t k = 0; k < FL_REGION_COUNT; k++)
        out->region_redness[k] = counts[k] ? sums[k] / (double)counts[k] : NAN;
    out->has_redness = 1;
    out->redness = skin_count ? skin_sum / (double)skin_count : NAN;
    return FL_OK;
}

double fl_acne_severity(const float *scores, size_t count)
{
    double sum = 0.0; /* Python: sum(i * p for i, p in enumerate(scores)), floats */
    for (size_t i = 0; i < count; i++) sum += (double)i * (double)scores[i];
    return sum;
}

void fl_skin_acne(const fl_classification *acne, fl_skin *out)
{
    out->has_acne_severity = acne != NULL;
    out->acne_severity = acne != NULL ? fl_acne_severity(acne->scores, acne->count) : NAN;
}
