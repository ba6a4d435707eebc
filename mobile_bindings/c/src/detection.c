/* detection.c: heatmap decoding, NMS and box mapping, as facelite.detection and
 * facelite.tasks.DetectionTask do them (see detection.h).
 *
 * Order and precision follow the Python code step by step, because a box that moves by
 * one ulp can move the landmark crop by a pixel: the heatmap is float32 (numpy), every
 * box coordinate a double (Python float); candidates are visited in row-major order
 * (np.nonzero), sorted by score with a stable sort (Python's `sorted`, ties keep that
 * order), and Python's `max`/`min` are reproduced with their NaN behaviour. A local
 * maximum is a cell not below any in-image neighbour of its 3x3 window: cv2.dilate's
 * default border counts as below every value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bundle.h"
#include "detection.h"
#include "status.h"

static const char *const PACKED_NAMES[FL_CH_COUNT] = {"heatmap", "size_w", "size_h", "offset_x", "offset_y"};

/* Python's max(a, b) and min(a, b) for floats: the first argument unless the second compares greater/less. */
static double py_max(double a, double b) { return b > a ? b : a; }
static double py_min(double a, double b) { return b < a ? b : a; }

/* `metrics.intersection`: the area of the overlap of two boxes. */
static double box_intersection(const fl_box *a, const fl_box *b)
{
    double ix = py_max(0.0, py_min(a->x + a->w, b->x + b->w) - py_max(a->x, b->x));
    double iy = py_max(0.0, py_min(a->y + a->h, b->y + b->h) - py_max(a->y, b->y));
    return ix * iy;
}

double fl_box_iou(const fl_box *a, const fl_box *b)
{
    double inter = box_intersection(a, b);
    double uni = a->w * a->h + b->w * b->h - inter;
    return uni > 0 ? inter / uni : 0.0;
}

double fl_box_containment(const fl_box *a, const fl_box *b)
{
    double smaller = py_min(a->w * a->h, b->w * b->h);
    return smaller > 0 ? box_intersection(a, b) / smaller : 0.0;
}

/* Whether NMS drops `box` next to the kept box `kept` (`detection.nms`'s test, negated). */
static int suppresses(const fl_box *kept, const fl_box *box, double iou_threshold, double containment_threshold)
{
    if (!(fl_box_iou(box, kept) <= iou_threshold)) return 1;
    return containment_threshold > 0 && !(fl_box_containment(box, kept) < containment_threshold);
}

size_t fl_nms(fl_box *boxes, size_t n, double iou_threshold, double containment_threshold, size_t max_boxes,
              fl_box *out)
{
    /* Insertion sort, best first: stable, and n is a few dozen peaks at most. */
    for (size_t i = 1; i < n; i++) {
        fl_box b = boxes[i];
        size_t j = i;
        while (j > 0 && boxes[j - 1].score < b.score) {
            boxes[j] = boxes[j - 1];
            j--;
        }
        boxes[j] = b;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < max_boxes; i++) {
        int keep = 1;
        for (size_t k = 0; k < kept && keep; k++)
            keep = !suppresses(&out[k], &boxes[i], iou_threshold, containment_threshold);
        if (keep) out[kept++] = boxes[i];
    }
    return kept;
}

static float heat_at(const float *heat, size_t step, int grid_w, int r, int c, int logits)
{
    float v = heat[((size_t)r * (size_t)grid_w + (size_t)c) * step];
    return logits ? 1.0f / (1.0f + expf(-v)) : v;
}

size_t fl_decode_heatmap(const float *heat, size_t heat_step, const float *size_w, const float *size_h,
                         size_t size_step, const float *offset_x, const float *offset_y, size_t offset_step,
                         int grid_w, int grid_h, int stride, int input_w, int input_h, int logits,
                         float score_threshold, double iou_threshold, double containment_threshold,
                         size_t max_boxes, fl_box *candidates, fl_box *out)
{
    size_t n = 0;
    for (int r = 0; r < grid_h; r++) {
        for (int c = 0; c < grid_w; c++) {
            float v = heat_at(heat, heat_step, grid_w, r, c, logits);
            if (!(v >= score_threshold)) continue;
            int peak = 1;
            for (int dr = -1; dr <= 1 && peak; dr++) {
                for (int dc = -1; dc <= 1 && peak; dc++) {
                    int rr = r + dr, cc = c + dc;
                    if (rr < 0 || rr >= grid_h || cc < 0 || cc >= grid_w) continue;
                    peak = !(heat_at(heat, heat_step, grid_w, rr, cc, logits) > v);
                }
            }
            if (!peak) continue;
            size_t cell = (size_t)r * (size_t)grid_w + (size_t)c;
            double dx = offset_x ? (double)offset_x[cell * offset_step] : 0.5;
            double dy = offset_y ? (double)offset_y[cell * offset_step] : 0.5;
            double cx = ((double)c + dx) * (double)stride, cy = ((double)r + dy) * (double)stride;
            double w = (double)size_w[cell * size_step] * (double)input_w;
            double h = (double)size_h[cell * size_step] * (double)input_h;
            candidates[n].x = cx - w / 2.0;
            candidates[n].y = cy - h / 2.0;
            candidates[n].w = w;
            candidates[n].h = h;
            candidates[n].score = (double)v;
            n++;
        }
    }
    return fl_nms(candidates, n, iou_threshold, containment_threshold, max_boxes, out);
}

size_t fl_detection_decode(fl_detection_decoder *d, fl_model *model, fl_box *out)
{
    if (d->packed) {
        const float *o = fl_model_output(model, d->packed_output, NULL);
        if (o == NULL) return 0;
        size_t step = (size_t)d->packed_channels;
        const int *ch = d->channel;
        int off = ch[FL_CH_OFFSET_X] >= 0 && ch[FL_CH_OFFSET_Y] >= 0;
        return fl_decode_heatmap(o + ch[FL_CH_HEATMAP], step, o + ch[FL_CH_SIZE_W], o + ch[FL_CH_SIZE_H], step,
                                 off ? o + ch[FL_CH_OFFSET_X] : NULL, off ? o + ch[FL_CH_OFFSET_Y] : NULL, step,
                                 d->grid_w, d->grid_h, d->stride, d->input_w, d->input_h, d->logits,
                                 d->score_threshold32, d->iou_threshold, d->containment_threshold, d->max_boxes,
                                 d->candidates, out);
    }
    const float *heat = fl_model_output(model, d->heatmap_output, NULL);
    const float *size = fl_model_output(model, d->size_output, NULL);
    const float *offset = d->has_offset ? fl_model_output(model, d->offset_output, NULL) : NULL;
    if (heat == NULL || size == NULL || (d->has_offset && offset == NULL)) return 0;
    return fl_decode_heatmap(heat, 1, size, size + 1, 2, offset, offset ? offset + 1 : NULL, 2, d->grid_w,
                             d->grid_h, d->stride, d->input_w, d->input_h, d->logits, d->score_threshold32,
                             d->iou_threshold, d->containment_threshold, d->max_boxes, d->candidates, out);
}

fl_box fl_box_clipped(fl_box b, int width, int height)
{
    double x0 = py_max(0.0, b.x), y0 = py_max(0.0, b.y);
    double x1 = py_min((double)width, b.x + b.w), y1 = py_min((double)height, b.y + b.h);
    fl_box out = {x0, y0, py_max(0.0, x1 - x0), py_max(0.0, y1 - y0), b.score};
    return out;
}

size_t fl_detection_to_image(const fl_detection_decoder *d, const fl_placement *p, int width, int height,
                             fl_box *boxes, size_t n)
{
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < d->max_boxes; i++) {
        if (!(boxes[i].score >= d->score_threshold)) continue;
        const fl_box *b = &boxes[i];
        fl_box mapped = {p->origin_x + b->x * p->step_x, p->origin_y + b->y * p->step_y, b->w * p->step_x,
                         b->h * p->step_y, b->score};
        mapped = fl_box_clipped(mapped, width, height);
        if (mapped.w > 1 && mapped.h > 1) boxes[kept++] = mapped;
    }
    return kept;
}

fl_box fl_box_to_extent(fl_box b, double margin)
{
    double k = 1.0 + 2.0 * margin;
    double w = b.w / k, h = b.h / k;
    fl_box out = {b.x + (b.w - w) / 2.0, b.y + (b.h - h) / 2.0, w, h, b.score};
    return out;
}

/* -- the decoder of a bundle ------------------------------------------------------------ */

typedef struct output_shape {
    int rank;    /* without the batch axis (numpy's o[0]) */
    int dims[FL_MAX_RANK];
    size_t count;
    const char *name;
} output_shape;

static fl_status read_outputs(const fl_model *model, output_shape *shapes, size_t *n, const char *where,
                              fl_error *err)
{
    *n = fl_model_output_count(model);
    if (*n == 0 || *n > 16) return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: the model has %zu outputs", where, *n);
    for (size_t i = 0; i < *n; i++) {
        fl_tensor_info info;
        fl_status st = fl_model_output_info(model, i, &info, err);
        if (st != FL_OK) return st;
        output_shape *s = &shapes[i];
        s->rank = info.rank > 0 ? (int)info.rank - 1 : 0;
        for (int k = 0; k < s->rank; k++) s->dims[k] = info.shape[k + 1];
        s->count = info.count;
        s->name = info.name ? info.name : "";
    }
    return FL_OK;
}

static int last_dim(const output_shape *s) { return s->rank > 0 ? s->dims[s->rank - 1] : 0; }

static int contains_word(const char *name, const char *const *words)
{
    char lower[256];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof lower; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    lower[i] = '\0';
    for (; *words; words++)
        if (strstr(lower, *words)) return 1;
    return 0;
}

enum { ROLE_HEATMAP = 0, ROLE_SIZE, ROLE_OFFSET, ROLE_PACKED, ROLE_COUNT };

/* `DetectionTask.output_roles`: role -> output index (-1: absent). */
static fl_status output_roles(const cJSON *out, const output_shape *shapes, size_t n, const char *where,
                              int roles[ROLE_COUNT], fl_error *err)
{
    static const char *const role_names[ROLE_COUNT] = {"heatmap", "size", "offset", "packed"};
    static const char *const heat_words[] = {"heatmap", "heat", "center", "centre", NULL};
    static const char *const size_words[] = {"size", "wh", "box", NULL};
    static const char *const offset_words[] = {"offset", "off", "reg", NULL};
    static const char *const *const keywords[3] = {heat_words, size_words, offset_words};
    for (int r = 0; r < ROLE_COUNT; r++) roles[r] = -1;
    const cJSON *channels = cJSON_GetObjectItemCaseSensitive(out, "channels");
    if (cJSON_IsArray(channels) && cJSON_GetArraySize(channels) > 0) {
        roles[ROLE_PACKED] = 0;
        return FL_OK;
    }
    const cJSON *mapping = cJSON_GetObjectItemCaseSensitive(out, "outputs");
    if (cJSON_IsObject(mapping)) {
        int all_named = 1;
        const cJSON *item;
        cJSON_ArrayForEach(item, mapping)
        {
            int found = 0;
            for (size_t i = 0; cJSON_IsString(item) && i < n && !found; i++)
                found = strcmp(item->valuestring, shapes[i].name) == 0;
            all_named = all_named && found;
        }
        if (all_named) {
            cJSON_ArrayForEach(item, mapping)
            {
                size_t i = 0;
                while (strcmp(item->valuestring, shapes[i].name) != 0) i++;
                for (int r = 0; r < ROLE_COUNT; r++)
                    if (strcmp(item->string, role_names[r]) == 0) roles[r] = (int)i;
            }
            if (roles[ROLE_PACKED] >= 0 || (roles[ROLE_HEATMAP] >= 0 && roles[ROLE_SIZE] >= 0)) return FL_OK;
            return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                           "%s: manifest output.outputs must map 'heatmap' and 'size' to model outputs", where);
        }
    }
    for (int r = 0; r < 3; r++) {
        for (size_t i = 0; i < n; i++) {
            int taken = 0;
            for (int q = 0; q < 3; q++) taken = taken || roles[q] == (int)i;
            if (!taken && contains_word(shapes[i].name, keywords[r])) {
                roles[r] = (int)i;
                break;
            }
        }
    }
    if (roles[ROLE_HEATMAP] >= 0 && roles[ROLE_SIZE] >= 0) return FL_OK;
    for (int r = 0; r < 3; r++) roles[r] = -1;
    if (n == 1 && (last_dim(&shapes[0]) == 3 || last_dim(&shapes[0]) == 5)) {
        roles[ROLE_PACKED] = 0;
        return FL_OK;
    }
    int ones = 0, twos = 0;
    for (size_t i = 0; i < n; i++) {
        if (last_dim(&shapes[i]) == 1) roles[ROLE_HEATMAP] = (int)i, ones++;
        if (last_dim(&shapes[i]) == 2) roles[ROLE_SIZE] = (int)i, twos++;
    }
    if (ones == 1 && twos == 1) return FL_OK;
    char names[512] = "";
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s'%.60s'", i ? ", " : "", shapes[i].name);
    }
    return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                   "%s: cannot tell the heatmap/size/offset outputs apart (outputs [%s]); name the model outputs "
                   "'heatmap', 'size', 'offset' or map them in manifest output.outputs as {role: output name}",
                   where, names);
}

static double number_or(const cJSON *obj, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

/* `DetectionTask.score_threshold`: the operating point of `variant` (NULL: none named),
 * output.score_threshold_by_variant[variant], else output.score_threshold, else 0.5. */
static double variant_score_threshold(const cJSON *out, const char *variant)
{
    const cJSON *by_variant = cJSON_GetObjectItemCaseSensitive(out, "score_threshold_by_variant");
    if (variant != NULL && cJSON_IsObject(by_variant)) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(by_variant, variant);
        if (cJSON_IsNumber(v)) return v->valuedouble;
    }
    return number_or(out, "score_threshold", 0.5);
}

static fl_status packed_roles(fl_detection_decoder *d, const cJSON *out, const output_shape *s, const char *where,
                              fl_error *err)
{
    if (s->rank < 3)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: the packed detection output has %d axes; it needs (Hs, Ws, C)",
                       where, s->rank);
    d->grid_h = s->dims[s->rank - 3];
    d->grid_w = s->dims[s->rank - 2];
    d->packed_channels = s->dims[s->rank - 1];
    if ((size_t)d->grid_h * (size_t)d->grid_w * (size_t)d->packed_channels != s->count)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: the detection output holds %zu values, not %dx%dx%d", where,
                       s->count, d->grid_h, d->grid_w, d->packed_channels);
    for (int r = 0; r < FL_CH_COUNT; r++) d->channel[r] = -1;
    const cJSON *channels = cJSON_GetObjectItemCaseSensitive(out, "channels");
    int listed = cJSON_IsArray(channels) ? cJSON_GetArraySize(channels) : 0;
    if (listed > 0) {
        for (int i = 0; i < listed; i++) {
            const cJSON *c = cJSON_GetArrayItem(channels, i);
            for (int r = 0; cJSON_IsString(c) && r < FL_CH_COUNT; r++)
                if (strcmp(c->valuestring, PACKED_NAMES[r]) == 0) d->channel[r] = i; /* a repeat: the last wins */
        }
    } else {
        for (int r = 0; r < FL_CH_COUNT && r < d->packed_channels; r++) d->channel[r] = r;
    }
    for (int r = 0; r < FL_CH_COUNT; r++) {
        if ((r <= FL_CH_SIZE_H && d->channel[r] < 0) || d->channel[r] >= d->packed_channels)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                           "%s: output.channels must name heatmap, size_w and size_h among the output's %d channels",
                           where, d->packed_channels);
    }
    return FL_OK;
}

static fl_status separate_roles(fl_detection_decoder *d, const int roles[ROLE_COUNT], const output_shape *shapes,
                                const char *where, fl_error *err)
{
    const output_shape *heat = &shapes[roles[ROLE_HEATMAP]];
    if (heat->rank >= 3 && last_dim(heat) == 1) {
        d->grid_h = heat->dims[heat->rank - 3];
        d->grid_w = heat->dims[heat->rank - 2];
    } else if (heat->rank >= 2) {
        d->grid_h = heat->dims[heat->rank - 2];
        d->grid_w = heat->dims[heat->rank - 1];
    } else {
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: the heatmap output has %d axes; it needs (Hs, Ws[, 1])",
                       where, heat->rank);
    }
    size_t cells = (size_t)d->grid_h * (size_t)d->grid_w;
    d->heatmap_output = (size_t)roles[ROLE_HEATMAP];
    d->size_output = (size_t)roles[ROLE_SIZE];
    d->has_offset = roles[ROLE_OFFSET] >= 0;
    d->offset_output = d->has_offset ? (size_t)roles[ROLE_OFFSET] : 0;
    if (heat->count != cells || shapes[d->size_output].count != 2 * cells ||
        (d->has_offset && shapes[d->offset_output].count != 2 * cells))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: the heatmap, size and offset outputs must hold Hs x Ws, Hs x Ws x 2 and Hs x Ws x 2 "
                       "values (Hs x Ws = %d x %d)",
                       where, d->grid_h, d->grid_w);
    return FL_OK;
}

fl_status fl_detection_decoder_init(fl_detection_decoder *d, const fl_bundle *bundle, const fl_model *model,
                                    double min_score, size_t max_boxes, fl_error *err)
{
    memset(d, 0, sizeof *d);
    const char *where = fl_bundle_path(bundle);
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(bundle->manifest.doc, "output");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(out, "kind");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "heatmap") != 0)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: a detection bundle needs output kind 'heatmap'", where);
    const cJSON *stride = cJSON_GetObjectItemCaseSensitive(out, "stride");
    if (!cJSON_IsNumber(stride) || !(stride->valuedouble >= 1 && stride->valuedouble <= 1024))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: a detection bundle's output needs 'stride' (input pixels per heatmap cell, 1-1024)", where);
    d->stride = (int)stride->valuedouble;
    const cJSON *activation = cJSON_GetObjectItemCaseSensitive(out, "heatmap_activation");
    d->logits = cJSON_IsString(activation) && strcmp(activation->valuestring, "logits") == 0;
    d->score_threshold = min_score >= 0 ? min_score : variant_score_threshold(out, fl_model_get_info(model)->variant);
    d->score_threshold32 = (float)d->score_threshold;
    d->iou_threshold = number_or(out, "iou_threshold", 0.4);
    d->containment_threshold = number_or(out, "containment_threshold", 0.0); /* the schema keeps it in (0, 1] */
    d->box_margin = number_or(out, "box_margin", 0.0);
    d->max_boxes = max_boxes;
    const fl_input_spec *spec = fl_bundle_input_spec(bundle);
    d->input_w = spec->width;
    d->input_h = spec->height;

    output_shape shapes[16];
    size_t n;
    int roles[ROLE_COUNT];
    fl_status st = read_outputs(model, shapes, &n, where, err);
    if (st == FL_OK) st = output_roles(out, shapes, n, where, roles, err);
    if (st != FL_OK) return st;
    d->packed = roles[ROLE_PACKED] >= 0;
    if (d->packed) {
        d->packed_output = (size_t)roles[ROLE_PACKED];
        st = packed_roles(d, out, &shapes[d->packed_output], where, err);
    } else {
        st = separate_roles(d, roles, shapes, where, err);
    }
    if (st != FL_OK) return st;
    if (d->grid_w < 1 || d->grid_h < 1 || d->grid_w > 4096 || d->grid_h > 4096)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: a %dx%d heatmap is out of range", where, d->grid_w, d->grid_h);
    d->candidates = malloc((size_t)d->grid_w * (size_t)d->grid_h * sizeof *d->candidates);
    if (d->candidates == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for the detection decoder");
    return fl_ok(err);
}

void fl_detection_decoder_free(fl_detection_decoder *d)
{
    if (d == NULL) return;
    free(d->candidates);
    d->candidates = NULL;
}
