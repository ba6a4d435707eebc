/*
 * test_preprocess_formats: every caller pixel layout gives the same tensor, and the
 * preprocessing API refuses bad input with a status and a message instead of crashing.
 *
 * The vectors (test_preprocess_vectors) pin the kernels on BGR arrays; a phone passes
 * RGBA (Android Bitmap), BGRA (iOS CVPixelBuffer), RGB or grey buffers with padded rows.
 * Here each of those, built from one BGR photo, must give bit-identical pixels, tensors
 * and placements for every colour, resize and crop; a grey buffer must equal the BGR
 * image with three equal channels. Scratch reuse must not change results.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facelite/facelite.h"
#include "facelite/image.h"
#include "facelite/preprocess.h"

static int g_failures;

#define CHECK(cond, ...)                                                                                              \
    do {                                                                                                              \
        if (!(cond)) {                                                                                                \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                               \
            printf(__VA_ARGS__);                                                                                      \
            printf("\n");                                                                                             \
            g_failures++;                                                                                             \
        }                                                                                                             \
    } while (0)

enum { W = 37, H = 29, PAD = 5 };

static uint32_t g_seed = 12345;

static uint8_t next_byte(void)
{
    g_seed = g_seed * 1664525u + 1013904223u;
    return (uint8_t)(g_seed >> 24);
}

/* `bgr` (W x H, packed) re-laid as `format` with PAD spare bytes per row (alpha 77). */
static uint8_t *relayout(const uint8_t *bgr, fl_pixel_format format, fl_image *img)
{
    const int ch = fl_pixel_format_channels(format);
    const size_t stride = (size_t)W * (size_t)ch + PAD;
    uint8_t *buf = malloc(stride * H);
    int x, y;
    memset(buf, 0xEE, stride * H);
    for (y = 0; y < H; y++)
        for (x = 0; x < W; x++) {
            const uint8_t *p = bgr + ((size_t)y * W + (size_t)x) * 3;
            uint8_t *o = buf + (size_t)y * stride + (size_t)x * (size_t)ch;
            switch (format) {
            case FL_PIXELS_BGR: o[0] = p[0]; o[1] = p[1]; o[2] = p[2]; break;
            case FL_PIXELS_RGB: o[0] = p[2]; o[1] = p[1]; o[2] = p[0]; break;
            case FL_PIXELS_BGRA: o[0] = p[0]; o[1] = p[1]; o[2] = p[2]; o[3] = 77; break;
            case FL_PIXELS_RGBA: o[0] = p[2]; o[1] = p[1]; o[2] = p[0]; o[3] = 77; break;
            case FL_PIXELS_GRAY: o[0] = p[1]; break;
            }
        }
    img->pixels = buf;
    img->width = W;
    img->height = H;
    img->stride = stride;
    img->format = format;
    return buf;
}

static void spec_for(fl_input_spec *s, fl_color color, fl_resize resize, fl_crop crop)
{
    int c;
    memset(s, 0, sizeof *s);
    s->height = 16;
    s->width = 12;
    s->color = color;
    s->channels = fl_color_channels(color);
    s->resize = resize;
    s->crop = crop;
    s->margin = 0.15;
    for (c = 0; c < 3; c++) {
        s->mean[c] = 127.5f - (float)c;
        s->std[c] = 127.5f + (float)c;
    }
}

static void test_layouts_give_identical_tensors(void)
{
    static const fl_pixel_format formats[] = {FL_PIXELS_RGB, FL_PIXELS_RGBA, FL_PIXELS_BGRA};
    const double box[4] = {-3.5, 6.25, 20.0, 18.0};
    uint8_t *bgr = malloc((size_t)W * H * 3), *grey_bgr = malloc((size_t)W * H * 3);
    fl_image packed = {NULL, W, H, (size_t)W * 3, FL_PIXELS_BGR}, grey_packed = packed, grey, other;
    fl_scratch *scratch;
    fl_error err;
    size_t i;
    int color, resize, crop, f, with_box;
    uint8_t *grey_buf;
    for (i = 0; i < (size_t)W * H * 3; i++)
        bgr[i] = next_byte();
    for (i = 0; i < (size_t)W * H; i++)
        grey_bgr[3 * i] = grey_bgr[3 * i + 1] = grey_bgr[3 * i + 2] = bgr[3 * i + 1];
    packed.pixels = bgr;
    grey_packed.pixels = grey_bgr;
    grey_buf = relayout(bgr, FL_PIXELS_GRAY, &grey);
    CHECK(fl_scratch_create(&scratch, &err) == FL_OK, "scratch: %s", err.message);
    for (color = 0; color <= FL_COLOR_GRAY_AS_RGB; color++)
        for (resize = 0; resize <= FL_RESIZE_NEAREST; resize++)
            for (crop = 0; crop <= FL_CROP_LETTERBOX; crop++)
                for (with_box = 0; with_box < 2; with_box++) {
                    fl_input_spec s;
                    float want[16 * 12 * 3], got[16 * 12 * 3];
                    fl_placement pw, pg;
                    const size_t bytes = sizeof(float) * 16 * 12 * (size_t)fl_color_channels((fl_color)color);
                    const double *b = with_box ? box : NULL;
                    spec_for(&s, (fl_color)color, (fl_resize)resize, (fl_crop)crop);
                    CHECK(fl_prepare(&packed, &s, b, want, &pw, NULL, &err) == FL_OK, "%s", err.message);
                    for (f = 0; f < 3; f++) {
                        uint8_t *buf = relayout(bgr, formats[f], &other);
                        memset(got, 0, sizeof got);
                        CHECK(fl_prepare(&other, &s, b, got, &pg, scratch, &err) == FL_OK, "%s", err.message);
                        CHECK(memcmp(want, got, bytes) == 0 && memcmp(&pw, &pg, sizeof pw) == 0,
                              "%s differs from BGR (colour %d, resize %d, crop %d, box %d)",
                              fl_pixel_format_name(formats[f]), color, resize, crop, with_box);
                        free(buf);
                    }
                    CHECK(fl_prepare(&grey_packed, &s, b, want, &pw, scratch, &err) == FL_OK, "%s", err.message);
                    CHECK(fl_prepare(&grey, &s, b, got, &pg, scratch, &err) == FL_OK, "%s", err.message);
                    CHECK(memcmp(want, got, bytes) == 0 && memcmp(&pw, &pg, sizeof pw) == 0,
                          "grey differs from equal-channel BGR (colour %d, resize %d, crop %d)", color, resize, crop);
                }
    fl_scratch_destroy(scratch);
    free(grey_buf);
    free(bgr);
    free(grey_bgr);
}

static void test_face_crop_without_box_stretches_the_whole_image(void)
{
    uint8_t bgr[W * H * 3];
    uint8_t a[16 * 12 * 3], b[16 * 12 * 3];
    fl_image img = {bgr, W, H, W * 3, FL_PIXELS_BGR};
    fl_input_spec face, none;
    fl_placement pa, pb;
    size_t i;
    for (i = 0; i < sizeof bgr; i++)
        bgr[i] = next_byte();
    spec_for(&face, FL_COLOR_RGB, FL_RESIZE_BILINEAR, FL_CROP_FACE);
    spec_for(&none, FL_COLOR_RGB, FL_RESIZE_BILINEAR, FL_CROP_NONE);
    CHECK(fl_prepare_pixels(&img, &face, NULL, a, &pa, NULL, NULL) == FL_OK, "face without box");
    CHECK(fl_prepare_pixels(&img, &none, NULL, b, &pb, NULL, NULL) == FL_OK, "none");
    CHECK(memcmp(a, b, sizeof a) == 0 && memcmp(&pa, &pb, sizeof pa) == 0, "face without a box is not 'none'");
    CHECK(pa.step_x == (double)W / 12 && pa.step_y == (double)H / 16, "placement step");
}

static void test_placement_maps_both_ways(void)
{
    const fl_placement p = {-2.5, 4.0, 0.75, 1.25};
    double x, y, u, v;
    fl_placement_to_image(&p, 10.0, 8.0, &x, &y);
    CHECK(x == -2.5 + 7.5 && y == 4.0 + 10.0, "to_image gave %g, %g", x, y);
    fl_placement_to_input(&p, x, y, &u, &v);
    CHECK(u == 10.0 && v == 8.0, "to_input gave %g, %g", u, v);
}

static void expect_error(fl_status got, fl_status want, const fl_error *err, const char *words, const char *what)
{
    CHECK(got == want, "%s: status %s, expected %s", what, fl_status_name(got), fl_status_name(want));
    CHECK(err->code == want && err->message[0] != '\0' && strstr(err->message, words) != NULL,
          "%s: message '%s' lacks '%s'", what, err->message, words);
}

static void test_bad_input_is_an_error_with_a_message(void)
{
    uint8_t px[4 * 4 * 3] = {0}, out[64 * 64 * 3];
    float tensor[16 * 12 * 3];
    fl_image img = {px, 4, 4, 12, FL_PIXELS_BGR};
    fl_input_spec s;
    fl_error err;
    const double huge[4] = {0.0, 0.0, 1000.0, 10.0}, nan_box[4] = {NAN, 0.0, 2.0, 2.0};
    const double singular[6] = {1.0, 2.0, 0.0, 2.0, 4.0, 0.0}, inf_matrix[6] = {INFINITY, 0, 0, 0, 1, 0};
    fl_square_crop sq;
    spec_for(&s, FL_COLOR_RGB, FL_RESIZE_BILINEAR, FL_CROP_FACE);
    expect_error(fl_prepare(NULL, &s, NULL, tensor, NULL, NULL, &err), FL_ERR_INVALID_ARGUMENT, &err, "NULL",
                 "NULL image");
    img.stride = 11;
    expect_error(fl_prepare(&img, &s, NULL, tensor, NULL, NULL, &err), FL_ERR_INVALID_ARGUMENT, &err, "stride",
                 "short stride");
    img.stride = 12;
    img.format = (fl_pixel_format)9;
    expect_error(fl_prepare(&img, &s, NULL, tensor, NULL, NULL, &err), FL_ERR_INVALID_ARGUMENT, &err, "format",
                 "unknown format");
    img.format = FL_PIXELS_BGR;
    img.width = 0;
    expect_error(fl_prepare(&img, &s, NULL, tensor, NULL, NULL, &err), FL_ERR_INVALID_ARGUMENT, &err, "1x1",
                 "empty image");
    img.width = 4;
    s.channels = 1;
    expect_error(fl_prepare(&img, &s, NULL, tensor, NULL, NULL, &err), FL_ERR_INVALID_ARGUMENT, &err, "channels",
                 "channels vs colour");
    s.channels = 3;
    s.std[1] = 0.0f;
    expect_error(fl_prepare(&img, &s, NULL, tensor, NULL, NULL, &err), FL_ERR_INVALID_ARGUMENT, &err, "std",
                 "zero std");
    s.std[1] = 1.0f;
    expect_error(fl_prepare(&img, &s, huge, tensor, NULL, NULL, &err), FL_ERR_INVALID_ARGUMENT, &err,
                 "over 16x the image's longer side", "crop over the limit");
    expect_error(fl_prepare(&img, &s, nan_box, tensor, NULL, NULL, &err), FL_ERR_INVALID_ARGUMENT, &err,
                 "not finite", "NaN box");
    expect_error(fl_square_crop_of(huge, 0.0, 4, 4, &sq, &err), FL_ERR_INVALID_ARGUMENT, &err, "crop",
                 "square crop over the limit");
    expect_error(fl_warp_affine(&img, singular, 8, 8, out, 24, &err), FL_ERR_INVALID_ARGUMENT, &err, "singular",
                 "singular warp");
    expect_error(fl_warp_affine(&img, inf_matrix, 8, 8, out, 24, &err), FL_ERR_INVALID_ARGUMENT, &err,
                 "not finite", "infinite warp");
    expect_error(fl_resize_pixels(&img, 0, 8, FL_RESIZE_AREA, out, 24, NULL, &err), FL_ERR_INVALID_ARGUMENT, &err,
                 "output size", "zero-width resize");
    expect_error(fl_resize_pixels(&img, 8, 8, (fl_resize)7, out, 24, NULL, &err), FL_ERR_INVALID_ARGUMENT, &err,
                 "resize", "unknown resize");
    expect_error(fl_to_color(&img, FL_COLOR_RGB, out, 5, &err), FL_ERR_INVALID_ARGUMENT, &err, "stride",
                 "short output stride");
}

static void test_quantize_rounds_half_to_even_and_saturates(void)
{
    const float x[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1000.0f, -1000.0f, NAN, INFINITY, -INFINITY, 0.49999997f};
    const int8_t want[] = {3, 5, 5, 3, 1, 127, -128, 0, 127, -128, 3}; /* zero point 3; NaN gives 0 */
    const uint8_t want_u8[] = {3, 5, 5, 3, 1, 255, 0, 0, 255, 0, 3};
    int8_t q[11];
    uint8_t qu[11];
    float back[11];
    size_t i;
    CHECK(fl_quantize(x, 11, 1.0f, 3, FL_DTYPE_INT8, q, NULL) == FL_OK, "quantize int8");
    for (i = 0; i < 11; i++)
        CHECK(q[i] == want[i], "int8 x[%zu]=%g -> %d, expected %d", i, (double)x[i], q[i], want[i]);
    CHECK(fl_quantize(x, 11, 1.0f, 3, FL_DTYPE_UINT8, qu, NULL) == FL_OK, "quantize uint8");
    for (i = 0; i < 11; i++)
        CHECK(qu[i] == want_u8[i], "uint8 x[%zu]=%g -> %d, expected %d", i, (double)x[i], qu[i], want_u8[i]);
    CHECK(fl_dequantize(q, 11, FL_DTYPE_INT8, 0.5f, 3, back, NULL) == FL_OK, "dequantize");
    CHECK(back[0] == 0.0f && back[5] == 62.0f && back[6] == -65.5f, "dequantize values %g %g %g", (double)back[0],
          (double)back[5], (double)back[6]);
    CHECK(fl_quantize(x, 1, 0.0f, 0, FL_DTYPE_INT8, q, NULL) == FL_ERR_INVALID_ARGUMENT, "zero scale refused");
    CHECK(fl_quantize(x, 1, 1.0f, 0, FL_DTYPE_FLOAT32, q, NULL) == FL_ERR_INVALID_ARGUMENT, "float32 refused");
}

static void test_area_shrink_by_thousands_stays_defined(void)
{
    /* A tap weight goes negative past ~1000x; the sum wraps as the reference's int32 does. */
    const int w = 6000;
    uint8_t *px = malloc((size_t)w * 3), out[3], out2[6];
    fl_image img = {px, w, 1, (size_t)w * 3, FL_PIXELS_BGR};
    int i;
    for (i = 0; i < w * 3; i++)
        px[i] = next_byte();
    CHECK(fl_resize_pixels(&img, 1, 1, FL_RESIZE_AREA, out, 3, NULL, NULL) == FL_OK, "6000 -> 1 area");
    CHECK(fl_resize_pixels(&img, 2, 1, FL_RESIZE_AREA, out2, 6, NULL, NULL) == FL_OK, "6000 -> 2 area");
    free(px);
}

int main(void)
{
    test_layouts_give_identical_tensors();
    test_face_crop_without_box_stretches_the_whole_image();
    test_placement_maps_both_ways();
    test_bad_input_is_an_error_with_a_message();
    test_quantize_rounds_half_to_even_and_saturates();
    test_area_shrink_by_thousands_stays_defined();
    printf("%s (%d failures)\n", g_failures == 0 ? "ok" : "FAILED", g_failures);
    return g_failures == 0 ? 0 : 1;
}
