/* skin.h: the per-face skin analysis, `facelite.skin.SkinAnalyzer.analyze_faces` in C (not
 * installed).
 *
 * For the faces of one image, stage by stage as the Python code runs them (and timed the
 * same way): each face's eye-aligned skin crop (`fl_skin_crop`), its raw measures (the
 * `skin_metrics` bundle, `fl_skin_measure_crop`), the capture quality gate (`fl_assess_capture`),
 * restoration of the noisy crops (`restorable`: `noisy` failed, nothing else but `low_resolution`) when a restorer is given
 * (`fl_restore_face`: the face cut at its native side from the photo, restored to the crop
 * size, measured and gated again), acne on each crop and its patches (acne.h) when an acne model is given, and
 * the report (`skin.build_report`: skin_scores.h's formulas; a region without pixels is
 * left out, and so is the tone when the face has none). */
#ifndef FACELITE_SRC_SKIN_H
#define FACELITE_SRC_SKIN_H

#include <stddef.h>
#include <stdint.h>

#include "acne.h"
#include "facelite/analyzer.h"
#include "facelite/preprocess.h"
#include "quality.h"
#include "restoration.h"
#include "skin_measures.h"
#include "skin_scores.h"

/** One face's working state between the stages. */
typedef struct fl_skin_slot {
    fl_pixel_format format;     /**< its crop's pixel format (the image's; BGR once restored) */
    int restored;               /**< its crop went through restoration */
    float points[2 * FL_LANDMARK_COUNT]; /**< its landmarks in crop pixels */
    fl_raw_skin raw;
    fl_capture_quality quality;
} fl_skin_slot;

/** The skin stages' models (created and destroyed by the analyzer) and the buffers they
 *  use (grown to the most faces seen, freed by `fl_skin_analyzer_release`). */
typedef struct fl_skin_analyzer {
    fl_skin_measurer *measurer; /**< required */
    fl_score_table scores;      /**< the measurer bundle's `output.score_anchors` */
    fl_acne_model acne;         /**< acne.model NULL: no acne concern */
    fl_restorer *restorer;      /**< NULL: no restoration */
    /** (name, version) of the measurer's, the acne and the restoration bundles. */
    const char *measurer_name, *measurer_version, *acne_name, *acne_version, *restorer_name, *restorer_version;
    fl_skin_slot *slots;        /**< one per face */
    size_t slots_capacity;      /**< bytes */
    uint8_t *crops;             /**< per face a crop of crop size^2 pixels of 4 bytes at most */
    size_t crops_capacity;
} fl_skin_analyzer;

/** One face of the image: its landmarks and detector box (extent convention, NULL: none)
 *  in, its report and acne grade out (`acne_scores`: the acne labels' combined
 *  probabilities, room for the acne model's labels). */
typedef struct fl_skin_face {
    const float *points;
    const double *box;
    fl_skin_report *report;
    fl_acne_grade *acne;
    float *acne_scores;
} fl_skin_face;

/** Free the buffers (not the models). */
void fl_skin_analyzer_release(fl_skin_analyzer *s);

/** The skin reports of `count` faces of `image` (any pixel format); the skin stages'
 *  timings into `t` (NaN for a stage that did not run). */
fl_status fl_skin_analyze_faces(fl_skin_analyzer *s, const fl_image *image, fl_skin_face *faces, size_t count,
                                fl_scratch *scratch, fl_timings *t, fl_error *err);

/** `skin.build_report`: a face's report from its raw measures, gate verdict and acne grade
 *  (NULL: none), scored with `table`; `models` (name, version) pairs, `restored` as it
 *  happened; `hidden` (NULL: none) the regions left out (`fl_hidden_cheeks`). */
void fl_skin_report_build(const fl_score_table *table, const fl_raw_skin *raw, const fl_capture_quality *quality,
                          const fl_acne_grade *acne, const char *const *models, size_t model_count, int restored,
                          const int *hidden, fl_skin_report *out);

#endif
