/*
 * test_preprocess_vectors: the C kernels reproduce every vector of
 * tests/vectors/preprocess/index.json (docs/preprocessing.md) bit for bit; the JPEG
 * `decode` vector within 2 levels with the exact shape.
 *
 *   test_preprocess_vectors [REPO_ROOT]     (default: $FACELITE_REPO, else the source tree)
 *
 * Prints one line per vector and exits non-zero when any differs or a kernel is unknown.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facelite/facelite.h"
#include "facelite/image.h"
#include "facelite/preprocess.h"
#include "files.h"

#ifndef FACELITE_SOURCE_DIR
#define FACELITE_SOURCE_DIR "."
#endif

static char g_dir[4096];
static int g_failures;

static void fail(const char *name, const char *fmt, const char *detail)
{
    printf("FAIL %s: ", name);
    printf(fmt, detail);
    printf("\n");
    g_failures++;
}

static fl_array *load_npy(const char *file)
{
    char path[4200];
    uint8_t *data;
    size_t size;
    fl_array *array = NULL;
    fl_error err;
    snprintf(path, sizeof path, "%s/%s", g_dir, file);
    if (fl_file_read(path, (uint64_t)1 << 30, "npy", &data, &size, &err) != FL_OK) {
        printf("cannot read %s: %s\n", path, err.message);
        return NULL;
    }
    if (fl_npy_read(data, size, &array, &err) != FL_OK)
        printf("cannot parse %s: %s\n", path, err.message);
    free(data);
    return array;
}

/* An (H, W), (H, W, 1) or (H, W, 3) uint8 array as an fl_image (grey or BGR). */
static int as_image(const fl_array *a, fl_image *img)
{
    int ch = a->rank == 3 ? (int)a->shape[2] : 1;
    if (a->dtype != FL_DTYPE_UINT8 || a->rank < 2 || a->rank > 3 || (ch != 1 && ch != 3))
        return 0;
    img->pixels = a->data;
    img->height = (int)a->shape[0];
    img->width = (int)a->shape[1];
    img->format = ch == 1 ? FL_PIXELS_GRAY : FL_PIXELS_BGR;
    img->stride = (size_t)img->width * (size_t)ch;
    return 1;
}

static const cJSON *param(const cJSON *params, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(params, key);
}

static double num(const cJSON *params, const char *key)
{
    const cJSON *v = param(params, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *params, const char *key)
{
    const cJSON *v = param(params, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int parse_resize(const char *name, fl_resize *out)
{
    if (strcmp(name, "bilinear") == 0) *out = FL_RESIZE_BILINEAR;
    else if (strcmp(name, "area") == 0) *out = FL_RESIZE_AREA;
    else if (strcmp(name, "nearest") == 0) *out = FL_RESIZE_NEAREST;
    else return 0;
    return 1;
}

static int parse_color(const char *name, fl_color *out)
{
    if (strcmp(name, "rgb") == 0) *out = FL_COLOR_RGB;
    else if (strcmp(name, "bgr") == 0) *out = FL_COLOR_BGR;
    else if (strcmp(name, "gray") == 0) *out = FL_COLOR_GRAY;
    else if (strcmp(name, "gray_as_rgb") == 0) *out = FL_COLOR_GRAY_AS_RGB;
    else return 0;
    return 1;
}

static int parse_crop(const char *name, fl_crop *out)
{
    if (strcmp(name, "none") == 0) *out = FL_CROP_NONE;
    else if (strcmp(name, "face") == 0) *out = FL_CROP_FACE;
    else if (strcmp(name, "letterbox") == 0) *out = FL_CROP_LETTERBOX;
    else return 0;
    return 1;
}

/* 1 when `got` (count bytes) equals the expected array's data exactly. */
static int same_bytes(const char *name, const fl_array *expected, const void *got, size_t bytes)
{
    size_t i, differ = 0;
    const uint8_t *a = expected->data, *b = got;
    if (expected->count * fl_dtype_size(expected->dtype) != bytes) {
        fail(name, "%s", "expected size differs from the output size");
        return 0;
    }
    for (i = 0; i < bytes; i++)
        differ += a[i] != b[i];
    if (differ != 0) {
        char detail[64];
        snprintf(detail, sizeof detail, "%zu of %zu bytes", differ, bytes);
        fail(name, "output differs in %s", detail);
        return 0;
    }
    return 1;
}

static int run_vector(const cJSON *vec)
{
    const char *name = str(vec, "name"), *kernel = str(vec, "kernel");
    const cJSON *params = param(vec, "params"), *expected = param(vec, "expected");
    const char *input = str(vec, "input");
    fl_array *in = NULL, *want = NULL, *want2 = NULL;
    uint8_t *out = NULL;
    float *outf = NULL;
    fl_image img;
    fl_error err;
    int ok = 0;
    err.message[0] = '\0';
    if (strcmp(kernel, "prepare") != 0 && strcmp(kernel, "decode") != 0) {
        in = load_npy(input);
        want = load_npy(str(expected, "output"));
        if (in == NULL || want == NULL) {
            fail(name, "%s", "cannot load its arrays");
            goto done;
        }
    }
    if (strcmp(kernel, "to_color") == 0) {
        fl_color color;
        if (!as_image(in, &img) || !parse_color(str(params, "color"), &color))
            goto bad;
        out = malloc(want->count);
        if (fl_to_color(&img, color, out, (size_t)img.width * (size_t)fl_color_channels(color), &err) != FL_OK)
            goto error;
        ok = same_bytes(name, want, out, want->count);
    } else if (strcmp(kernel, "resize") == 0) {
        fl_resize method;
        const int h = (int)num(params, "height"), w = (int)num(params, "width");
        if (!as_image(in, &img) || !parse_resize(str(params, "method"), &method))
            goto bad;
        out = malloc(want->count);
        if (fl_resize_pixels(&img, w, h, method, out, (size_t)w * (size_t)fl_pixel_format_channels(img.format), NULL,
                             &err) != FL_OK)
            goto error;
        ok = same_bytes(name, want, out, want->count);
    } else if (strcmp(kernel, "letterbox") == 0) {
        fl_resize method;
        fl_letterbox_geometry g;
        const int h = (int)num(params, "height"), w = (int)num(params, "width");
        if (!as_image(in, &img) || !parse_resize(str(params, "method"), &method))
            goto bad;
        out = malloc(want->count);
        if (fl_letterbox(&img, w, h, method, out, (size_t)w * 3, &g, NULL, &err) != FL_OK)
            goto error;
        ok = same_bytes(name, want, out, want->count);
        if (ok && (g.scale != num(params, "scale") || g.pad_x != (int)num(params, "pad_x") ||
                   g.pad_y != (int)num(params, "pad_y"))) {
            fail(name, "%s", "scale or padding differ");
            ok = 0;
        }
    } else if (strcmp(kernel, "crop_square") == 0) {
        const cJSON *b = param(params, "box"), *o = param(params, "origin");
        double box[4];
        fl_square_crop sq;
        int i;
        if (!as_image(in, &img) || cJSON_GetArraySize(b) != 4 || cJSON_GetArraySize(o) != 3)
            goto bad;
        for (i = 0; i < 4; i++)
            box[i] = cJSON_GetArrayItem(b, i)->valuedouble;
        if (fl_square_crop_of(box, num(params, "margin"), img.width, img.height, &sq, &err) != FL_OK)
            goto error;
        if ((double)sq.x0 != cJSON_GetArrayItem(o, 0)->valuedouble ||
            (double)sq.y0 != cJSON_GetArrayItem(o, 1)->valuedouble ||
            (double)sq.side != cJSON_GetArrayItem(o, 2)->valuedouble) {
            fail(name, "%s", "crop origin or side differ");
            goto done;
        }
        out = malloc(want->count);
        if (fl_crop_square(&img, &sq, out, (size_t)sq.side * 3, &err) != FL_OK)
            goto error;
        ok = same_bytes(name, want, out, want->count);
    } else if (strcmp(kernel, "warp_affine") == 0) {
        const cJSON *m = param(params, "matrix");
        const int h = (int)num(params, "height"), w = (int)num(params, "width");
        double matrix[6];
        int r, c;
        if (!as_image(in, &img) || cJSON_GetArraySize(m) != 2)
            goto bad;
        for (r = 0; r < 2; r++)
            for (c = 0; c < 3; c++)
                matrix[r * 3 + c] = cJSON_GetArrayItem(cJSON_GetArrayItem(m, r), c)->valuedouble;
        out = malloc(want->count);
        if (fl_warp_affine(&img, matrix, w, h, out, (size_t)w * 3, &err) != FL_OK)
            goto error;
        ok = same_bytes(name, want, out, want->count);
    } else if (strcmp(kernel, "normalize") == 0) {
        const cJSON *mean = param(params, "mean"), *sd = param(params, "std");
        fl_input_spec spec;
        int c;
        memset(&spec, 0, sizeof spec);
        spec.channels = in->rank == 3 ? (int)in->shape[2] : 1;
        for (c = 0; c < spec.channels; c++) {
            spec.mean[c] = (float)cJSON_GetArrayItem(mean, c)->valuedouble;
            spec.std[c] = (float)cJSON_GetArrayItem(sd, c)->valuedouble;
        }
        outf = malloc(in->count * sizeof(float));
        if (fl_normalize(in->data, in->count / (size_t)spec.channels, &spec, outf, &err) != FL_OK)
            goto error;
        ok = same_bytes(name, want, outf, in->count * sizeof(float));
    } else if (strcmp(kernel, "quantize") == 0) {
        if (in->dtype != FL_DTYPE_FLOAT32 || strcmp(str(params, "dtype"), "int8") != 0)
            goto bad;
        out = malloc(in->count);
        if (fl_quantize(in->data, in->count, (float)num(params, "scale"), (int64_t)num(params, "zero_point"),
                        FL_DTYPE_INT8, out, &err) != FL_OK)
            goto error;
        ok = same_bytes(name, want, out, in->count);
    } else if (strcmp(kernel, "prepare") == 0) {
        const cJSON *s = param(params, "input_spec"), *shape = param(s, "shape"), *b = param(params, "box");
        const cJSON *pl = param(params, "placement");
        char path[4200];
        fl_decoded_image decoded;
        fl_input_spec spec;
        fl_placement where;
        double box[4];
        int c;
        memset(&spec, 0, sizeof spec);
        spec.height = cJSON_GetArrayItem(shape, 1)->valueint;
        spec.width = cJSON_GetArrayItem(shape, 2)->valueint;
        spec.channels = cJSON_GetArrayItem(shape, 3)->valueint;
        if (!parse_color(str(s, "color"), &spec.color) || !parse_resize(str(s, "resize"), &spec.resize) ||
            !parse_crop(str(s, "crop"), &spec.crop))
            goto bad;
        spec.margin = num(s, "margin");
        for (c = 0; c < spec.channels; c++) {
            spec.mean[c] = (float)cJSON_GetArrayItem(param(s, "mean"), c)->valuedouble;
            spec.std[c] = (float)cJSON_GetArrayItem(param(s, "std"), c)->valuedouble;
        }
        for (c = 0; c < 4 && cJSON_IsArray(b); c++)
            box[c] = cJSON_GetArrayItem(b, c)->valuedouble;
        want = load_npy(str(expected, "pixels"));
        want2 = load_npy(str(expected, "tensor"));
        snprintf(path, sizeof path, "%s/%s", g_dir, input);
        fl_decoded_image_init(&decoded);
        if (want == NULL || want2 == NULL || fl_image_load(path, &decoded, &err) != FL_OK) {
            fl_decoded_image_release(&decoded);
            goto error;
        }
        out = malloc(want->count);
        outf = malloc(want2->count * sizeof(float));
        if (fl_prepare_pixels(&decoded.image, &spec, cJSON_IsArray(b) ? box : NULL, out, &where, NULL, &err) != FL_OK ||
            fl_prepare(&decoded.image, &spec, cJSON_IsArray(b) ? box : NULL, outf, NULL, NULL, &err) != FL_OK) {
            fl_decoded_image_release(&decoded);
            goto error;
        }
        fl_decoded_image_release(&decoded);
        ok = same_bytes(name, want, out, want->count) && same_bytes(name, want2, outf, want2->count * sizeof(float));
        if (ok && (where.origin_x != cJSON_GetArrayItem(param(pl, "origin"), 0)->valuedouble ||
                   where.origin_y != cJSON_GetArrayItem(param(pl, "origin"), 1)->valuedouble ||
                   where.step_x != cJSON_GetArrayItem(param(pl, "step"), 0)->valuedouble ||
                   where.step_y != cJSON_GetArrayItem(param(pl, "step"), 1)->valuedouble)) {
            fail(name, "%s", "placement differs");
            ok = 0;
        }
    } else if (strcmp(kernel, "decode") == 0) {
        char path[4200];
        fl_decoded_image decoded;
        size_t i;
        int worst = 0;
        snprintf(path, sizeof path, "%s/%s", g_dir, input);
        want = load_npy(str(expected, "output"));
        fl_decoded_image_init(&decoded);
        if (want == NULL || fl_image_load(path, &decoded, &err) != FL_OK) {
            fl_decoded_image_release(&decoded);
            goto error;
        }
        if (want->rank != 3 || want->shape[0] != decoded.image.height || want->shape[1] != decoded.image.width ||
            want->shape[2] != 3) {
            fail(name, "%s", "decoded shape differs");
        } else {
            for (i = 0; i < want->count; i++) {
                const int d = abs((int)((uint8_t *)want->data)[i] - (int)decoded.image.pixels[i]);
                worst = d > worst ? d : worst;
            }
            printf("     %s: orientation %d, %dx%d, max |diff| vs OpenCV %d\n", name, decoded.orientation,
                   decoded.image.width, decoded.image.height, worst);
            ok = worst <= 2 && decoded.orientation == (int)num(params, "orientation");
            if (!ok)
                fail(name, "%s", "pixels differ by more than 2 levels or the orientation differs");
        }
        fl_decoded_image_release(&decoded);
    } else {
        fail(name, "unknown kernel '%s'", kernel);
        goto done;
    }
    goto done;
bad:
    fail(name, "%s", "unexpected parameters or input shape");
    goto done;
error:
    fail(name, "error: %s", err.message);
done:
    if (ok)
        printf("ok   %s\n", name);
    fl_array_destroy(in);
    fl_array_destroy(want);
    fl_array_destroy(want2);
    free(out);
    free(outf);
    return ok;
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : getenv("FACELITE_REPO");
    char path[4200];
    uint8_t *text;
    size_t size;
    cJSON *index;
    const cJSON *vec;
    fl_error err;
    int count = 0;
    if (root == NULL || root[0] == '\0')
        root = FACELITE_SOURCE_DIR;
    snprintf(g_dir, sizeof g_dir, "%s/tests/vectors/preprocess", root);
    snprintf(path, sizeof path, "%s/index.json", g_dir);
    if (fl_file_read(path, 1 << 20, "index", &text, &size, &err) != FL_OK) {
        printf("FAIL: %s\n", err.message);
        return 1;
    }
    index = cJSON_ParseWithLength((const char *)text, size);
    free(text);
    if (index == NULL) {
        printf("FAIL: %s is not JSON\n", path);
        return 1;
    }
    cJSON_ArrayForEach(vec, cJSON_GetObjectItemCaseSensitive(index, "vectors"))
    {
        run_vector(vec);
        count++;
    }
    cJSON_Delete(index);
    printf("%d vectors, %d failed\n", count, g_failures);
    return g_failures == 0 && count > 0 ? 0 : 1;
}
