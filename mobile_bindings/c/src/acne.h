/* acne.h: acne severity per face from its skin crop and patches, `facelite.acne` in C
 * (not installed).
 *
 * The same views (`acne.acne_views`: the whole crop, then a square patch per visible
 * region of ACNE_PATCH_REGIONS), each made a model input by `fl_prepare` with the patch
 * box (the bundle's spec has `crop = "face"`), the same combination (`acne.combine_views`:
 * half the whole crop, half the patches' mean), the same expected grade, in double in
 * numpy's order, and the same grade decision (`acne.grade_index`, the bundle's
 * `output.grade_decision`). Why the views and the rules are what they are: the Python
 * module's docstring. */
#ifndef FACELITE_SRC_ACNE_H
#define FACELITE_SRC_ACNE_H

#include <stddef.h>

#include "facelite/analyzer.h"
#include "facelite/preprocess.h"

/** Views per face at most: the whole crop and four patches. */
#define FL_ACNE_VIEW_MAX 5
/** The view of the whole crop has no region. */
#define FL_ACNE_WHOLE (-1)

/** One view of a face crop: `region` (an `fl_region_name` index, or FL_ACNE_WHOLE) and,
 *  for a patch, its square box x, y, side, side in crop pixels. */
typedef struct fl_acne_view {
    int region;
    double box[4];
} fl_acne_view;

/** `acne.acne_views`: the views of the face whose 68 landmarks in a `crop_size` square
 *  crop are `points`, the whole crop first; returns how many (1 to FL_ACNE_VIEW_MAX). */
size_t fl_acne_views(const float points[2 * FL_LANDMARK_COUNT], int crop_size, fl_acne_view views[FL_ACNE_VIEW_MAX]);

/** `output.grade_decision` (`acne.grade_index`): which label grades a face's combined
 *  probabilities. */
typedef enum fl_acne_decision {
    FL_ACNE_ARGMAX = 0, /**< the first of the most probable labels (absent: this) */
    FL_ACNE_MEDIAN = 1  /**< the first label whose cumulative probability reaches 0.5 */
} fl_acne_decision;

/** The bundle's `output.grade_decision` (absent: argmax). Other values never get here: the
 *  compiled-in manifest schema refuses them when the bundle opens, naming the field. */
fl_acne_decision fl_acne_decision_of(const fl_bundle *bundle);

/** One face's acne (`acne.AcneGrade`). */
typedef struct fl_acne_grade {
    double severity;                     /**< expected grade of the combined probabilities */
    size_t top;                          /**< the grade: the label the decision gives the combined probabilities */
    int has_region[FL_REGION_COUNT];     /**< 1 for the regions graded on their own patch */
    double per_region[FL_REGION_COUNT];  /**< each patch's own expected grade */
} fl_acne_grade;

/** `acne.acne_grade`: from the `count` views' label probabilities (`count` rows of
 *  `labels` floats, in view order), the combined probabilities into `combined` (`labels`
 *  doubles) and the grade, `top` by `decision`, into `out`. */
void fl_acne_combine(const fl_acne_view *views, size_t count, const float *probabilities, size_t labels,
                     fl_acne_decision decision, double *combined, fl_acne_grade *out);

/** The acne model and its buffers, owned by the caller (the analyzer's acne stage). */
typedef struct fl_acne_model {
    fl_model *model;
    const fl_input_spec *spec; /**< `crop` must be FL_CROP_FACE */
    int logits;                /**< the outputs get a softmax (`fl_classification_logits`) */
    int flip;                  /**< each view averaged with its mirror (`fl_classification_flip`) */
    fl_acne_decision decision; /**< how the grade is picked (`fl_acne_decision_of`) */
    size_t labels;
    float *tensor;             /**< spec's H x W x C */
    float *probabilities;      /**< FL_ACNE_VIEW_MAX x labels: the views' probabilities */
    double *combined;          /**< labels: the combined probabilities of the last grade */
} fl_acne_model;

/** `AcneGrader.grade`: every view of `crop` (the face's skin crop, any pixel format; its
 *  landmarks `points` in crop pixels) through the model; the grade into `out`, the
 *  combined probabilities into `acne->combined`. */
fl_status fl_acne_grade_crop(const fl_acne_model *acne, const fl_image *crop, const float points[2 * FL_LANDMARK_COUNT],
                             fl_scratch *scratch, fl_acne_grade *out, fl_error *err);

#endif
