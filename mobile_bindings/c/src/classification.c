/* classification.c: a classifier's scores and top label (classification.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bundle.h"
#include "classification.h"
#include "status.h"

fl_status fl_classification_check(const fl_bundle *bundle, const fl_model *model, fl_error *err)
{
    fl_tensor_info info;
    fl_status st = fl_model_output_info(model, 0, &info, err);
    if (st != FL_OK) return st;
    size_t labels = fl_bundle_label_count(bundle);
    if (info.count != labels || labels == 0)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: the model outputs %zu scores per image but the manifest lists %zu labels; 'labels' must "
                       "name every output class, in output order; rebuild the bundle",
                       fl_bundle_path(bundle), info.count, labels);
    return fl_ok(err);
}

int fl_classification_logits(const fl_bundle *bundle)
{
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(bundle->manifest.doc, "output");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(out, "kind");
    return cJSON_IsString(kind) && strcmp(kind->valuestring, "logits") == 0;
}

size_t fl_classification_scores(const float *outputs, size_t count, int logits, float *scores)
{
    if (logits) { /* tasks.softmax: exp(x - max) / sum, in float32 */
        float top = outputs[0], sum = 0.0f;
        for (size_t i = 1; i < count; i++) top = outputs[i] > top ? outputs[i] : top;
        for (size_t i = 0; i < count; i++) {
            scores[i] = expf(outputs[i] - top);
            sum += scores[i];
        }
        for (size_t i = 0; i < count; i++) scores[i] /= sum;
    } else {
        memcpy(scores, outputs, count * sizeof *scores);
    }
    size_t best = 0; /* np.argmax: the first of the highest */
    for (size_t i = 1; i < count; i++)
        if (scores[i] > scores[best]) best = i;
    return best;
}

int fl_classification_flip(const fl_bundle *bundle)
{
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(bundle->manifest.doc, "output");
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out, "test_time_flip"));
}

void fl_mirror_sample(void *sample, size_t height, size_t width, size_t pixel_bytes)
{
    unsigned char *rows = sample, held[FL_MAX_INPUT_CHANNELS * sizeof(float)];
    if (pixel_bytes > sizeof held) return; /* wider than any model input (FL_MAX_INPUT_CHANNELS floats) */
    for (size_t y = 0; y < height; y++) {
        unsigned char *row = rows + y * width * pixel_bytes;
        for (size_t l = 0, r = width - 1; l < r; l++, r--) {
            memcpy(held, row + l * pixel_bytes, pixel_bytes);
            memcpy(row + l * pixel_bytes, row + r * pixel_bytes, pixel_bytes);
            memcpy(row + r * pixel_bytes, held, pixel_bytes);
        }
    }
}

/* The mirror's run done: its scores (fl_classification_scores, the one softmax) averaged
 * into `scores` in float32, `(a + b) / 2` as numpy does; the first top. */
static fl_status mirror_mean(fl_model *model, int logits, float *scores, size_t labels, size_t *top, fl_error *err)
{
    size_t n;
    const float *raw = fl_model_output(model, 0, &n);
    if (raw == NULL || n != labels)
        return fl_fail(err, FL_ERR_INTERNAL, "the mirrored crop gave no output of %zu scores", labels);
    float *mirrored = malloc(n * sizeof *mirrored);
    if (mirrored == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "no memory for %zu mirrored scores", n);
    fl_classification_scores(raw, n, logits, mirrored);
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        scores[i] = (scores[i] + mirrored[i]) / 2.0f;
        if (scores[i] > scores[best]) best = i;
    }
    free(mirrored);
    *top = best;
    return fl_ok(err);
}

fl_status fl_classification_flip_pixels(fl_model *model, const fl_input_spec *spec, uint8_t *work, int logits,
                                        float *scores, size_t labels, size_t *top, fl_error *err)
{
    const uint8_t *pixels = fl_model_pixels(model);
    if (pixels == NULL || work == NULL)
        return fl_fail(err, FL_ERR_INTERNAL, "test-time flip: the crop's pixels are missing; run the crop first");
    const size_t count = (size_t)spec->height * (size_t)spec->width * (size_t)spec->channels;
    memcpy(work, pixels, count);
    fl_mirror_sample(work, (size_t)spec->height, (size_t)spec->width, (size_t)spec->channels);
    fl_status st = fl_model_set_pixels(model, work, count, spec, err);
    if (st == FL_OK) st = fl_model_invoke(model, err);
    return st == FL_OK ? mirror_mean(model, logits, scores, labels, top, err) : st;
}

fl_status fl_classification_flip_tensor(fl_model *model, const fl_input_spec *spec, float *tensor, int logits,
                                        float *scores, size_t labels, size_t *top, fl_error *err)
{
    const size_t count = (size_t)spec->height * (size_t)spec->width * (size_t)spec->channels;
    fl_mirror_sample(tensor, (size_t)spec->height, (size_t)spec->width, (size_t)spec->channels * sizeof *tensor);
    fl_status st = fl_model_run(model, tensor, count, err);
    return st == FL_OK ? mirror_mean(model, logits, scores, labels, top, err) : st;
}
