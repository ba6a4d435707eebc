/* skin_measures.c: the skin crop, its masks, the skin_metrics input and outputs (skin_measures.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alignment.h"
#include "bundle.h"
#include "facelite/preprocess.h"
#include "regions.h"
#include "skin_measures.h"
#include "status.h"

/* `SKIN_EYES` and `MOUTH_SCALE` of facelite/skin_measures.py (docs/skin.md 2.1). */
#define SKIN_EYE_LEFT_X 0.36
#define SKIN_EYE_RIGHT_X 0.64
#define SKIN_EYE_Y 0.40
#define MOUTH_SCALE 0.9
#define INPUT_CHANNELS (3 + FL_SKIN_MASK_COUNT)

static const char *const MEASURES[FL_SKIN_MEASURE_COUNT] = {
    "pixels", "lightness", "a_star", "b_star", "redness", "lightness_sd", "b_star_sd",
    "spot_fraction", "spot_contrast", "texture", "shine"};
static const char *const CAPTURE[FL_SKIN_CAPTURE_COUNT] = {
    "sharpness", "noise", "skin_lightness", "clipped_fraction", "dark_fraction", "cast", "light_asymmetry",
    "sclera_pixels", "bright_fraction"};
static const char *const LIGHTING[FL_SKIN_LIGHTING_COUNT] = {
    "gain_r", "gain_g", "gain_b", "exposure_gain", "shading", "redness_baseline"};
static const char *const CROP_GAINS[FL_SKIN_CROP_GAIN_COUNT] = {"crop_gain_r", "crop_gain_g", "crop_gain_b"};
static const char *const EYES[2] = {"right_eye", "left_eye"};

const char *fl_skin_measure_name(size_t i) { return i < FL_SKIN_MEASURE_COUNT ? MEASURES[i] : NULL; }
const char *fl_skin_capture_name(size_t i) { return i < FL_SKIN_CAPTURE_COUNT ? CAPTURE[i] : NULL; }
const char *fl_skin_lighting_name(size_t i) { return i < FL_SKIN_LIGHTING_COUNT ? LIGHTING[i] : NULL; }
const char *fl_skin_crop_gain_name(size_t i) { return i < FL_SKIN_CROP_GAIN_COUNT ? CROP_GAINS[i] : NULL; }

const char *fl_skin_mask_name(size_t i)
{
    if (i < FL_REGION_COUNT) return fl_region_name(i);
    return i < FL_SKIN_MASK_COUNT ? EYES[i - FL_REGION_COUNT] : NULL;
}

const char *fl_skin_row_name(size_t i)
{
    if (i < FL_REGION_COUNT) return fl_region_name(i);
    return i == FL_SKIN_FACE_ROW ? "face" : NULL;
}

void fl_skin_crop_matrix(const float points[2 * FL_LANDMARK_COUNT], int size, double matrix[6])
{
    float left_f[2], right_f[2];
    fl_eye_centres(points, left_f, right_f);
    /* (p48 + p54) / 2 in float32, as numpy computes it */
    const float mouth_f[2] = {(points[2 * 48] + points[2 * 54]) / 2.0f, (points[2 * 48 + 1] + points[2 * 54 + 1]) / 2.0f};
    const double left[2] = {left_f[0], left_f[1]}, right[2] = {right_f[0], right_f[1]};
    const double mid[2] = {(left[0] + right[0]) / 2.0, (left[1] + right[1]) / 2.0};
    const double v[2] = {right[0] - left[0], right[1] - left[1]};
    const double e2e = hypot(v[0], v[1]);
    const double e2m = hypot((double)mouth_f[0] - mid[0], (double)mouth_f[1] - mid[1]);
    const double scaled = MOUTH_SCALE * e2m;
    const double d = scaled > e2e ? scaled : e2e; /* Python's max(e2e, scaled): e2e on a tie */
    double u[2] = {1.0, 0.0};
    if (e2e > 1e-6) {
        u[0] = v[0] / e2e;
        u[1] = v[1] / e2e;
    }
    const double half = d / 2.0;
    const double src0[2] = {mid[0] - u[0] * half, mid[1] - u[1] * half};
    const double src1[2] = {mid[0] + u[0] * half, mid[1] + u[1] * half};
    const double dst0[2] = {SKIN_EYE_LEFT_X * size, SKIN_EYE_Y * size};
    const double dst1[2] = {SKIN_EYE_RIGHT_X * size, SKIN_EYE_Y * size};
    fl_similarity_between(src0, src1, dst0, dst1, matrix);
}

void fl_skin_map_points(const double m[6], const float *points, size_t count, float *out)
{
    for (size_t i = 0; i < count; i++) {
        const double x = points[2 * i], y = points[2 * i + 1];
        out[2 * i] = (float)(m[0] * x + m[1] * y + m[2]);
        out[2 * i + 1] = (float)(m[3] * x + m[4] * y + m[5]);
    }
}

fl_status fl_skin_crop(const fl_image *image, const float points[2 * FL_LANDMARK_COUNT], int size, uint8_t *dst,
                       double matrix[6], float crop_points[2 * FL_LANDMARK_COUNT], fl_error *err)
{
    double m[6];
    fl_skin_crop_matrix(points, size, m);
    if (matrix != NULL) memcpy(matrix, m, sizeof m);
    if (crop_points != NULL) fl_skin_map_points(m, points, FL_LANDMARK_COUNT, crop_points);
    size_t stride = (size_t)size * (size_t)fl_pixel_format_channels(image->format);
    return fl_warp_affine(image, m, size, size, dst, stride, err);
}

/* One polygon's pixels into plane k of the interleaved masks: rasterised over its box into
 * `scratch` (a size x size plane, cleared here), then copied in. */
static void rasterize_into(const float *xy, size_t n, int size, uint8_t *scratch, uint8_t *masks, int k)
{
    fl_pixel_box box = fl_polygon_box(xy, n, size, size);
    if (box.x1 <= box.x0 || box.y1 <= box.y0) return;
    const size_t w = (size_t)(box.x1 - box.x0);
    for (int y = box.y0; y < box.y1; y++) memset(scratch + (size_t)(y - box.y0) * w, 0, w);
    fl_polygon_rasterize(xy, n, box, scratch, w, 1);
    for (int y = box.y0; y < box.y1; y++)
        for (int x = box.x0; x < box.x1; x++)
            masks[((size_t)y * (size_t)size + (size_t)x) * FL_SKIN_MASK_COUNT + (size_t)k] =
                scratch[(size_t)(y - box.y0) * w + (size_t)(x - box.x0)];
}

static void crop_masks_with(const float crop_points[2 * FL_LANDMARK_COUNT], int size, uint8_t *masks,
                            uint8_t *scratch)
{
    float regions[2 * FL_REGION_POINTS_TOTAL];
    memset(masks, 0, (size_t)size * (size_t)size * FL_SKIN_MASK_COUNT);
    fl_face_regions(crop_points, size, size, regions);
    for (size_t r = 0; r < FL_REGION_COUNT; r++)
        rasterize_into(regions + 2 * fl_region_offset(r), fl_region_points(r), size, scratch, masks, (int)r);
    rasterize_into(crop_points + 2 * 36, 6, size, scratch, masks, FL_REGION_COUNT);
    rasterize_into(crop_points + 2 * 42, 6, size, scratch, masks, FL_REGION_COUNT + 1);
}

void fl_skin_crop_masks(const float crop_points[2 * FL_LANDMARK_COUNT], int size, uint8_t *masks)
{
    uint8_t *scratch = malloc((size_t)size * (size_t)size);
    if (scratch == NULL) { /* no memory: no mask (callers with a measurer reuse its scratch) */
        memset(masks, 0, (size_t)size * (size_t)size * FL_SKIN_MASK_COUNT);
        return;
    }
    crop_masks_with(crop_points, size, masks, scratch);
    free(scratch);
}

void fl_skin_measure_input(const uint8_t *crop, fl_pixel_format format, const uint8_t *masks, int size, float *out)
{
    const int ch = fl_pixel_format_channels(format);
    int r = 0, g = 0, b = 0; /* channel of R, G and B in a pixel of `format` */
    switch (format) {
    case FL_PIXELS_RGB: case FL_PIXELS_RGBA: r = 0; g = 1; b = 2; break;
    case FL_PIXELS_BGR: case FL_PIXELS_BGRA: r = 2; g = 1; b = 0; break;
    default: break; /* grey: R = G = B */
    }
    const size_t n = (size_t)size * (size_t)size;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = crop + i * (size_t)ch;
        float *o = out + i * INPUT_CHANNELS;
        o[0] = (float)p[r];
        o[1] = (float)p[g];
        o[2] = (float)p[b];
        for (int k = 0; k < FL_SKIN_MASK_COUNT; k++) o[3 + k] = (float)masks[i * FL_SKIN_MASK_COUNT + (size_t)k];
    }
}

/* -- the bundle's layout ------------------------------------------------------------ */

static int index_of(const cJSON *names, const char *name)
{
    int i = 0;
    for (const cJSON *n = names ? names->child : NULL; n; n = n->next, i++)
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0) return i;
    return -1;
}

fl_status fl_skin_layout_read(const fl_bundle *bundle, fl_skin_layout *out, fl_error *err)
{
    const char *where = fl_bundle_path(bundle);
    const cJSON *doc = bundle->manifest.doc;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(doc, "output");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(o, "rows");
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(o, "columns");
    const cJSON *globals = cJSON_GetObjectItemCaseSensitive(o, "globals");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "input"),
                                                          "extra_channels");
    const fl_input_spec *in = fl_bundle_input_spec(bundle);
    memset(out, 0, sizeof *out);
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "measures") != 0 || !cJSON_IsArray(rows) ||
        !cJSON_IsArray(cols))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: a skin_metrics bundle needs output kind 'measures' with "
                       "rows and columns", where);
    int ok = in->color == FL_COLOR_RGB && in->width == in->height && cJSON_GetArraySize(extra) == FL_SKIN_MASK_COUNT;
    for (int k = 0; ok && k < FL_SKIN_MASK_COUNT; k++) ok = index_of(extra, fl_skin_mask_name((size_t)k)) == k;
    if (!ok)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: a skin_metrics input is a square rgb crop plus the masks "
                       "forehead ... chin, right_eye, left_eye in that order; this C core feeds no other", where);
    const size_t ncols = (size_t)cJSON_GetArraySize(cols);
    const size_t table = (size_t)cJSON_GetArraySize(rows) * ncols;
    out->size = table + (size_t)cJSON_GetArraySize(globals);
    for (size_t r = 0; r < FL_SKIN_ROW_COUNT; r++) {
        int row = index_of(rows, fl_skin_row_name(r));
        if (row < 0)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.rows lack '%s'", where, fl_skin_row_name(r));
        for (size_t m = 0; m < FL_SKIN_MEASURE_COUNT; m++) {
            int col = index_of(cols, MEASURES[m]);
            if (col < 0)
                return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.columns lack '%s'", where, MEASURES[m]);
            out->table[r][m] = (size_t)row * ncols + (size_t)col;
        }
    }
    struct {
        const char *const *names;
        size_t count;
        size_t *into;
    } lists[] = {{CAPTURE, FL_SKIN_CAPTURE_COUNT, out->capture},
                 {LIGHTING, FL_SKIN_LIGHTING_COUNT, out->lighting},
                 {CROP_GAINS, FL_SKIN_CROP_GAIN_COUNT, out->crop_gains}};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++)
        for (size_t i = 0; i < lists[l].count; i++) {
            int at = index_of(globals, lists[l].names[i]);
            if (at < 0)
                return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.globals lack '%s'", where, lists[l].names[i]);
            lists[l].into[i] = table + (size_t)at;
        }
    int ita = index_of(globals, "tone_ita");
    if (ita < 0) return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.globals lack 'tone_ita'", where);
    out->tone_ita = table + (size_t)ita;
    return fl_ok(err);
}

fl_status fl_skin_metrics_check(const fl_bundle *bundle, const fl_model *model, fl_error *err)
{
    fl_skin_layout layout;
    fl_tensor_info info;
    fl_status st = fl_skin_layout_read(bundle, &layout, err);
    if (st == FL_OK) st = fl_model_output_info(model, 0, &info, err);
    if (st != FL_OK) return st;
    const size_t values = info.count;
    if (values != layout.size)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: its output.rows, columns and globals lay out %zu values; "
                       "the model outputs %zu", fl_bundle_path(bundle), layout.size, values);
    return fl_ok(err);
}

/* -- the measurer ------------------------------------------------------------------- */

struct fl_skin_measurer {
    fl_model *model;
    fl_skin_layout layout;
    int size;
    uint8_t *masks;   /* size x size x FL_SKIN_MASK_COUNT */
    uint8_t *scratch; /* size x size: one polygon's box */
    float *input;     /* size x size x INPUT_CHANNELS */
};

fl_status fl_skin_measurer_create(const fl_bundle *bundle, fl_model *model, fl_skin_measurer **out, fl_error *err)
{
    *out = NULL;
    fl_skin_measurer *m = calloc(1, sizeof *m);
    if (m == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for the skin measurer");
    fl_status st = fl_skin_layout_read(bundle, &m->layout, err);
    if (st == FL_OK) st = fl_skin_metrics_check(bundle, model, err);
    if (st != FL_OK) {
        free(m);
        return st;
    }
    m->model = model;
    m->size = fl_bundle_input_spec(bundle)->width;
    const size_t n = (size_t)m->size * (size_t)m->size;
    m->masks = malloc(n * FL_SKIN_MASK_COUNT);
    m->scratch = malloc(n);
    m->input = malloc(n * INPUT_CHANNELS * sizeof *m->input);
    if (m->masks == NULL || m->scratch == NULL || m->input == NULL) {
        const int size = m->size;
        fl_skin_measurer_destroy(m);
        return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for the skin measurer's %dx%d buffers", size, size);
    }
    *out = m;
    return fl_ok(err);
}

void fl_skin_measurer_destroy(fl_skin_measurer *m)
{
    if (m == NULL) return;
    free(m->masks);
    free(m->scratch);
    free(m->input);
    free(m);
}

int fl_skin_measurer_size(const fl_skin_measurer *m) { return m->size; }

const uint8_t *fl_skin_measurer_masks(const fl_skin_measurer *m) { return m->masks; }

fl_status fl_skin_measure_crop(fl_skin_measurer *m, const uint8_t *crop, fl_pixel_format format,
                               const float crop_points[2 * FL_LANDMARK_COUNT], fl_raw_skin *out, fl_error *err)
{
    const size_t n = (size_t)m->size * (size_t)m->size;
    crop_masks_with(crop_points, m->size, m->masks, m->scratch);
    fl_skin_measure_input(crop, format, m->masks, m->size, m->input);
    fl_status st = fl_model_run(m->model, m->input, n * INPUT_CHANNELS, err);
    if (st != FL_OK) return st;
    size_t count = 0;
    const float *v = fl_model_output(m->model, 0, &count);
    if (v == NULL || count != m->layout.size)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "the skin_metrics model output %zu values; its manifest lays out %zu",
                       count, m->layout.size);
    for (size_t i = 0; i < count; i++)
        if (!isfinite(v[i]))
            return fl_fail(err, FL_ERR_BUNDLE_INVALID, "the skin_metrics model output NaN or infinite values; its "
                           "bundle is damaged: rebuild or re-download it");
    for (size_t r = 0; r < FL_SKIN_ROW_COUNT; r++)
        for (size_t k = 0; k < FL_SKIN_MEASURE_COUNT; k++) out->regions[r][k] = v[m->layout.table[r][k]];
    for (size_t k = 0; k < FL_SKIN_CAPTURE_COUNT; k++) out->capture[k] = v[m->layout.capture[k]];
    for (size_t k = 0; k < FL_SKIN_LIGHTING_COUNT; k++) out->lighting[k] = v[m->layout.lighting[k]];
    for (size_t k = 0; k < FL_SKIN_CROP_GAIN_COUNT; k++) out->crop_gains[k] = v[m->layout.crop_gains[k]];
    out->tone_ita = v[m->layout.tone_ita];
    return fl_ok(err);
}
