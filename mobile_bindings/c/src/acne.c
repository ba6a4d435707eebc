/* acne.c: acne severity per face from its skin crop and patches (acne.h). */
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "acne.h"
#include "bundle.h"
#include "classification.h"
#include "regions.h"
#include "status.h"

/* `acne.ACNE_PATCH_REGIONS` as fl_region_name indices: forehead, left_cheek, right_cheek, chin. */
static const int PATCH_REGIONS[] = {0, 2, 3, 6};
#define MIN_PATCH_FRACTION 0.16 /* acne.MIN_PATCH_FRACTION */

/* `acne.patch_box`: the square of the polygon's bounding box's area, centred on it. */
static void patch_box(const float *xy, size_t n, int crop_size, double box[4])
{
    double x0 = xy[0], y0 = xy[1], x1 = xy[0], y1 = xy[1];
    for (size_t i = 1; i < n; i++) {
        x0 = fmin(x0, xy[2 * i]), x1 = fmax(x1, xy[2 * i]);
        y0 = fmin(y0, xy[2 * i + 1]), y1 = fmax(y1, xy[2 * i + 1]);
    }
    const double w = x1 - x0 > 0.0 ? x1 - x0 : 0.0, h = y1 - y0 > 0.0 ? y1 - y0 : 0.0;
    const double least = MIN_PATCH_FRACTION * crop_size, root = sqrt(w * h);
    const double side = least > root ? least : root;
    const double cx = (x0 + x1) / 2.0, cy = (y0 + y1) / 2.0;
    box[0] = cx - side / 2.0, box[1] = cy - side / 2.0, box[2] = side, box[3] = side;
}

size_t fl_acne_views(const float points[2 * FL_LANDMARK_COUNT], int crop_size, fl_acne_view views[FL_ACNE_VIEW_MAX])
{
    float regions[2 * FL_REGION_POINTS_TOTAL];
    fl_face_regions(points, crop_size, crop_size, regions);
    int hidden[FL_REGION_COUNT];
    fl_hidden_cheeks(regions, hidden);
    size_t count = 0;
    views[count].region = FL_ACNE_WHOLE;
    memset(views[count].box, 0, sizeof views[count].box);
    count++;
    for (size_t k = 0; k < sizeof PATCH_REGIONS / sizeof PATCH_REGIONS[0]; k++) {
        const int r = PATCH_REGIONS[k];
        if (hidden[r]) continue;
        views[count].region = r;
        patch_box(regions + 2 * fl_region_offset((size_t)r), fl_region_points((size_t)r), crop_size, views[count].box);
        count++;
    }
    return count;
}

/* `acne.expected_grade`: sum of i * p_i in label order. */
static double expected_grade(const double *p, size_t labels)
{
    double sum = 0.0;
    for (size_t i = 0; i < labels; i++) sum += p[i] * (double)i;
    return sum;
}

fl_acne_decision fl_acne_decision_of(const fl_bundle *bundle)
{
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(bundle->manifest.doc, "output");
    const cJSON *decision = cJSON_GetObjectItemCaseSensitive(output, "grade_decision");
    return cJSON_IsString(decision) && strcmp(decision->valuestring, "median") == 0 ? FL_ACNE_MEDIAN : FL_ACNE_ARGMAX;
}

/* `acne.grade_index`: argmax, the first of the highest; median, the first label whose
 * running sum in double (numpy's cumsum, in label order) reaches 0.5, else the last. */
static size_t grade_index(const double *p, size_t labels, fl_acne_decision decision)
{
    size_t top = 0;
    if (decision == FL_ACNE_MEDIAN) {
        double sum = 0.0;
        for (top = 0; top + 1 < labels; top++) {
            sum += p[top];
            if (sum >= 0.5) break;
        }
        return top;
    }
    for (size_t k = 1; k < labels; k++)
        if (p[k] > p[top]) top = k;
    return top;
}

void fl_acne_combine(const fl_acne_view *views, size_t count, const float *probabilities, size_t labels,
                     fl_acne_decision decision, double *combined, fl_acne_grade *out)
{
    size_t wholes = 0, patches = 0;
    for (size_t v = 0; v < count; v++) {
        if (views[v].region == FL_ACNE_WHOLE)
            wholes++;
        else
            patches++;
    }
    for (size_t k = 0; k < labels; k++) { /* numpy's mean over axis 0: a running sum, then / n */
        double whole = 0.0, patch = 0.0;
        for (size_t v = 0; v < count; v++) {
            const double p = probabilities[v * labels + k];
            if (views[v].region == FL_ACNE_WHOLE)
                whole += p;
            else
                patch += p;
        }
        whole /= (double)wholes;
        combined[k] = patches ? 0.5 * whole + 0.5 * (patch / (double)patches) : whole;
    }
    memset(out, 0, sizeof *out);
    out->severity = expected_grade(combined, labels);
    out->top = grade_index(combined, labels, decision);
    for (size_t v = 0; v < count; v++) {
        const int r = views[v].region;
        if (r == FL_ACNE_WHOLE) continue;
        double sum = 0.0; /* the patch's own expected grade */
        for (size_t i = 0; i < labels; i++) sum += (double)probabilities[v * labels + i] * (double)i;
        out->has_region[r] = 1;
        out->per_region[r] = sum;
    }
}

fl_status fl_acne_grade_crop(const fl_acne_model *acne, const fl_image *crop, const float points[2 * FL_LANDMARK_COUNT],
                             fl_scratch *scratch, fl_acne_grade *out, fl_error *err)
{
    fl_acne_view views[FL_ACNE_VIEW_MAX];
    const size_t count = fl_acne_views(points, crop->width, views);
    const fl_input_spec *spec = acne->spec;
    const size_t tensor_count = (size_t)spec->height * (size_t)spec->width * (size_t)spec->channels;
    for (size_t v = 0; v < count; v++) {
        const double *box = views[v].region == FL_ACNE_WHOLE ? NULL : views[v].box;
        fl_status st = fl_prepare(crop, spec, box, acne->tensor, NULL, scratch, err);
        if (st == FL_OK) st = fl_model_run(acne->model, acne->tensor, tensor_count, err);
        if (st != FL_OK) return st;
        size_t n;
        const float *raw = fl_model_output(acne->model, 0, &n);
        if (raw == NULL || n != acne->labels)
            return fl_fail(err, FL_ERR_INTERNAL, "the acne model gave no output of %zu scores", acne->labels);
        float *scores = acne->probabilities + v * acne->labels;
        size_t top = fl_classification_scores(raw, n, acne->logits, scores);
        if (acne->flip &&
            (st = fl_classification_flip_tensor(acne->model, spec, acne->tensor, acne->logits, scores, n, &top, err)) !=
                FL_OK)
            return st;
    }
    fl_acne_combine(views, count, acne->probabilities, acne->labels, acne->decision, acne->combined, out);
    return fl_ok(err);
}
