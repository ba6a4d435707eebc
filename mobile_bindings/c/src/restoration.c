/* restoration.c: tiles, the model and the output pixels of an image_to_image bundle (restoration.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buffer.h"
#include "bundle.h"
#include "facelite/preprocess.h"
#include "restoration.h"
#include "skin_measures.h"
#include "status.h"

struct fl_restorer {
    fl_bundle *bundle;
    fl_model *model;
    fl_input_spec spec;
    fl_output_image_spec out;
    fl_scratch *scratch;
    float *tensor;          /* one tile's model input */
    uint8_t *padded;        /* the crop as BGR, padded to at least a tile */
    size_t padded_capacity;
    int *starts;            /* tile starts along y, then x */
    size_t starts_capacity;
    uint8_t *cut;           /* fl_restore_face: the skin crop cut at the face's native side */
    size_t cut_capacity;
    uint8_t *large;         /* fl_restore_face: that cut restored, before the area resize */
    size_t large_capacity;
};

static int number_array(const cJSON *array, float *values, int count)
{
    if (!cJSON_IsArray(array) || cJSON_GetArraySize(array) != count) return 0;
    for (int c = 0; c < count; c++) {
        const cJSON *v = cJSON_GetArrayItem(array, c);
        if (!cJSON_IsNumber(v)) return 0;
        values[c] = (float)v->valuedouble;
    }
    return 1;
}

fl_status fl_output_image_spec_read(const fl_bundle *bundle, fl_output_image_spec *out, fl_error *err)
{
    const char *where = fl_bundle_path(bundle);
    const fl_input_spec *in = fl_bundle_input_spec(bundle);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(bundle->manifest.doc, "output");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    memset(out, 0, sizeof *out);
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "image") != 0)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: an image_to_image bundle needs output kind 'image'", where);
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(o, "scale");
    const cJSON *color = cJSON_GetObjectItemCaseSensitive(o, "color");
    const cJSON *context = cJSON_GetObjectItemCaseSensitive(o, "context");
    if (!cJSON_IsNumber(scale) || !cJSON_IsString(color) || !cJSON_IsNumber(context))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: an image_to_image bundle's output needs scale, color, mean, "
                       "std and context", where);
    out->scale = scale->valueint; /* the schema bounds it: 1..8 */
    out->context = context->valueint;
    if (strcmp(color->valuestring, "rgb") == 0)
        out->color = FL_COLOR_RGB;
    else if (strcmp(color->valuestring, "bgr") == 0)
        out->color = FL_COLOR_BGR;
    else
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.color '%s': use one of rgb, bgr", where,
                       color->valuestring);
    if (in->channels != 3 || !number_array(cJSON_GetObjectItemCaseSensitive(o, "mean"), out->mean, 3) ||
        !number_array(cJSON_GetObjectItemCaseSensitive(o, "std"), out->std, 3))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.mean and output.std need %d values each, one per "
                       "channel", where, in->channels);
    int side = in->width < in->height ? in->width : in->height;
    if (!(2 * out->context < side))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.context %d leaves nothing of a %dx%d tile; it must be "
                       "under half the input side", where, out->context, in->width, in->height);
    return fl_ok(err);
}

fl_status fl_restoration_check(const fl_bundle *bundle, const fl_model *model, fl_error *err)
{
    fl_output_image_spec spec;
    fl_tensor_info info;
    fl_status st = fl_output_image_spec_read(bundle, &spec, err);
    if (st == FL_OK) st = fl_model_output_info(model, 0, &info, err);
    if (st != FL_OK) return st;
    const fl_input_spec *in = fl_bundle_input_spec(bundle);
    int32_t want[4] = {1, in->height * spec.scale, in->width * spec.scale, in->channels};
    int fits = info.rank == 4;
    for (int i = 0; fits && i < 4; i++) fits = info.shape[i] == want[i];
    if (!fits)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: an image_to_image model with a %dx%d input and output.scale %d outputs (1, %d, %d, %d); "
                       "rebuild the bundle", fl_bundle_path(bundle), in->width, in->height, spec.scale, want[1],
                       want[2], want[3]);
    return fl_ok(err);
}

size_t fl_tile_starts(int length, int tile, int context, int *starts, size_t capacity)
{
    size_t n = 0;
    int s = 0;
    for (;;) {
        if (n < capacity) starts[n] = s;
        n++;
        if (s + tile >= length) return n;
        s = s + tile - 2 * context < length - tile ? s + tile - 2 * context : length - tile;
    }
}

fl_status fl_restorer_create(fl_bundle *bundle, const char *variant, fl_accelerator accelerator, int threads,
                             fl_restorer **out, fl_error *err)
{
    *out = NULL;
    if (fl_bundle_task(bundle) != FL_TASK_IMAGE_TO_IMAGE)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: is a '%s' bundle; fl_restorer needs 'image_to_image'",
                       fl_bundle_path(bundle), fl_task_name(fl_bundle_task(bundle)));
    fl_restorer *r = calloc(1, sizeof *r);
    if (r == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for a restorer");
    r->spec = *fl_bundle_input_spec(bundle);
    fl_status st = fl_output_image_spec_read(bundle, &r->out, err);
    if (st == FL_OK) st = fl_model_create(bundle, variant, accelerator, threads, &r->model, err);
    if (st == FL_OK) st = fl_model_check_task(bundle, r->model, err);
    if (st == FL_OK) st = fl_scratch_create(&r->scratch, err);
    if (st == FL_OK) {
        r->tensor = malloc(sizeof(float) * (size_t)r->spec.height * (size_t)r->spec.width * (size_t)r->spec.channels);
        if (r->tensor == NULL) st = fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for a restoration tile");
    }
    if (st != FL_OK) {
        fl_restorer_destroy(r);
        return st;
    }
    r->bundle = bundle;
    *out = r;
    return fl_ok(err);
}

void fl_restorer_destroy(fl_restorer *r)
{
    if (r == NULL) return;
    fl_model_destroy(r->model);
    fl_scratch_destroy(r->scratch);
    free(r->tensor);
    free(r->padded);
    free(r->starts);
    free(r->cut);
    free(r->large);
    free(r);
}

int fl_restorer_scale(const fl_restorer *r)
{
    return r->out.scale;
}

const fl_model_info *fl_restorer_model_info(const fl_restorer *r)
{
    return fl_model_get_info(r->model);
}

/* The crop as BGR in r->padded, width pw x height ph, its last row and column repeated. */
static fl_status pad_crop(fl_restorer *r, const fl_image *crop, int pw, int ph, fl_error *err)
{
    size_t stride = (size_t)pw * 3;
    if (!fl_buffer_reserve((void **)&r->padded, &r->padded_capacity, stride * (size_t)ph))
        return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for a %dx%d crop", pw, ph);
    fl_status st = fl_to_color(crop, FL_COLOR_BGR, r->padded, stride, err);
    if (st != FL_OK) return st;
    for (int y = 0; y < crop->height; y++) {
        uint8_t *row = r->padded + (size_t)y * stride;
        for (int x = crop->width; x < pw; x++) memcpy(row + (size_t)x * 3, row + (size_t)(crop->width - 1) * 3, 3);
    }
    for (int y = crop->height; y < ph; y++)
        memcpy(r->padded + (size_t)y * stride, r->padded + (size_t)(crop->height - 1) * stride, stride);
    return FL_OK;
}

static uint8_t to_pixel(float v, float std, float mean)
{
    v = v * std; /* float32, each step rounded as numpy rounds it (no contraction: -ffp-contract=off) */
    v = v + mean;
    v = floorf(v + 0.5f);
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)v;
}

fl_status fl_restore(fl_restorer *r, const fl_image *crop, uint8_t *dst, size_t dst_stride, fl_error *err)
{
    fl_status st = fl_image_check(crop, err);
    if (st != FL_OK) return st;
    const int th = r->spec.height, tw = r->spec.width, c = r->out.context, s = r->out.scale;
    if (dst == NULL || dst_stride < (size_t)crop->width * (size_t)s * 3)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_restore: dst is NULL or its stride %zu is under a row of "
                       "%d BGR pixels", dst_stride, crop->width * s);
    const int pw = crop->width > tw ? crop->width : tw, ph = crop->height > th ? crop->height : th;
    if ((st = pad_crop(r, crop, pw, ph, err)) != FL_OK) return st;
    size_t ny = fl_tile_starts(ph, th, c, NULL, 0), nx = fl_tile_starts(pw, tw, c, NULL, 0);
    size_t bytes = sizeof(int) * (ny + nx);
    if (!fl_buffer_reserve((void **)&r->starts, &r->starts_capacity, bytes))
        return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for %zu tile positions", ny + nx);
    int *ys = r->starts, *xs = r->starts + ny;
    fl_tile_starts(ph, th, c, ys, ny);
    fl_tile_starts(pw, tw, c, xs, nx);
    const size_t count = (size_t)th * (size_t)tw * 3, out_w = (size_t)tw * (size_t)s;
    const int rgb = r->out.color == FL_COLOR_RGB;
    for (size_t i = 0; i < ny; i++) {
        int y = ys[i], y0 = i == 0 ? 0 : y + c, y1 = i + 1 == ny ? ph : y + th - c;
        if (y1 > crop->height) y1 = crop->height; /* rows of the padding are never written */
        for (size_t j = 0; j < nx; j++) {
            int x = xs[j], x0 = j == 0 ? 0 : x + c, x1 = j + 1 == nx ? pw : x + tw - c;
            if (x1 > crop->width) x1 = crop->width;
            fl_image tile = {r->padded + ((size_t)y * (size_t)pw + (size_t)x) * 3, tw, th, (size_t)pw * 3,
                             FL_PIXELS_BGR};
            st = fl_prepare(&tile, &r->spec, NULL, r->tensor, NULL, r->scratch, err);
            if (st == FL_OK) st = fl_model_run(r->model, r->tensor, count, err);
            if (st != FL_OK) return st;
            size_t n;
            const float *out = fl_model_output(r->model, 0, &n);
            if (out == NULL || n != count * (size_t)s * (size_t)s)
                return fl_fail(err, FL_ERR_INTERNAL, "the restoration model gave no output of %zu values",
                               count * (size_t)s * (size_t)s);
            for (size_t k = 0; k < n; k++) /* as OutputImageSpec.to_pixels: NaN pixels are a damaged bundle */
                if (!isfinite(out[k]))
                    return fl_fail(err, FL_ERR_BUNDLE_INVALID, "the image-to-image model output NaN or infinite "
                                   "values; its bundle is damaged: rebuild or re-download it");
            for (int oy = y0 * s; oy < y1 * s; oy++) {
                const float *src = out + ((size_t)(oy - y * s) * out_w + (size_t)(x0 - x) * (size_t)s) * 3;
                uint8_t *row = dst + (size_t)oy * dst_stride + (size_t)x0 * (size_t)s * 3;
                for (int ox = 0; ox < (x1 - x0) * s; ox++, src += 3, row += 3)
                    for (int ch = 0; ch < 3; ch++) {
                        int from = rgb ? 2 - ch : ch; /* BGR channel ch of an RGB output */
                        row[ch] = to_pixel(src[from], r->out.std[from], r->out.mean[from]);
                    }
            }
        }
    }
    return fl_ok(err);
}

int fl_native_crop_side(const float points[2 * FL_LANDMARK_COUNT], int size, int scale)
{
    double m[6];
    fl_skin_crop_matrix(points, size, m);
    const double native = ceil((double)size / hypot(m[0], m[1]) - 1e-6);
    const double least = (double)(size / scale);
    return (int)fmin(fmax(native, least), (double)size);
}

fl_status fl_restore_face(fl_restorer *r, const fl_image *image, const float points[2 * FL_LANDMARK_COUNT], int size,
                          uint8_t *dst, size_t dst_stride, float crop_points[2 * FL_LANDMARK_COUNT], fl_error *err)
{
    fl_status st = fl_image_check(image, err);
    if (st != FL_OK) return st;
    const int s = r->out.scale, side = fl_native_crop_side(points, size, s), big = side * s;
    const int channels = fl_pixel_format_channels(image->format);
    if (dst == NULL || dst_stride < (size_t)size * 3)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_restore_face: dst is NULL or its stride %zu is under a row "
                       "of %d BGR pixels", dst_stride, size);
    if (!fl_buffer_reserve((void **)&r->cut, &r->cut_capacity, (size_t)side * (size_t)side * (size_t)channels) ||
        (big != size && !fl_buffer_reserve((void **)&r->large, &r->large_capacity, (size_t)big * (size_t)big * 3)))
        return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for a %dx%d restored crop", big, big);
    st = fl_skin_crop(image, points, side, r->cut, NULL, crop_points, err);
    const fl_image cut = {r->cut, side, side, (size_t)side * (size_t)channels, image->format};
    if (big == size) { /* restored at the crop size already: no resize, as in Python */
        if (st == FL_OK) st = fl_restore(r, &cut, dst, dst_stride, err);
    } else {
        const fl_image restored = {r->large, big, big, (size_t)big * 3, FL_PIXELS_BGR};
        if (st == FL_OK) st = fl_restore(r, &cut, r->large, restored.stride, err);
        if (st == FL_OK) st = fl_resize_pixels(&restored, size, size, FL_RESIZE_AREA, dst, dst_stride, r->scratch, err);
    }
    if (st != FL_OK) return st;
    const float factor = (float)((double)size / (double)side);
    for (size_t k = 0; k < 2 * FL_LANDMARK_COUNT; k++) crop_points[k] = crop_points[k] * factor;
    return fl_ok(err);
}
