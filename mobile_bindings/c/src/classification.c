/* classification.c: a classifier's scores and top label (classification.h). */
#include <math.h>
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
