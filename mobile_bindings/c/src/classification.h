/* classification.h: a classifier's outputs read as per-label scores (not installed).
 *
 * `facelite.tasks.ClassificationTask.scores` (output kind `logits` softmaxed in float32,
 * `probabilities` as they are) and `facelite.classifier.to_classifications` (the first
 * label of highest score), with `facelite.tasks.ClassificationTask.run_scores`
 * test-time flip (`output.test_time_flip`: the mean of the crop's and its mirror's scores). */
#ifndef FACELITE_SRC_CLASSIFICATION_H
#define FACELITE_SRC_CLASSIFICATION_H

#include <stdint.h>

#include "facelite/analyzer.h"
#include "facelite/preprocess.h"

/** FL_ERR_BUNDLE_INVALID unless `model` outputs one score per label of `bundle`
 *  (`ClassificationTask.check_engine`). */
fl_status fl_classification_check(const fl_bundle *bundle, const fl_model *model, fl_error *err);

/** 1 when the bundle's `output.kind` is "logits" (its scores get a softmax). */
int fl_classification_logits(const fl_bundle *bundle);

/** `count` raw outputs -> `scores` (softmaxed when `logits`); returns the top index. */
size_t fl_classification_scores(const float *outputs, size_t count, int logits, float *scores);

/** 1 when the bundle's `output.test_time_flip` is true: a crop's scores are the mean of
 *  its own and its left-right mirror's (`ClassificationTask.run_scores`, docs/bundle.md). */
int fl_classification_flip(const fl_bundle *bundle);

/** Mirror one NHWC sample left-right in place: `height` rows of `width` pixels of
 *  `pixel_bytes` bytes each (uint8 pixels or float tensor values alike). */
void fl_mirror_sample(void *sample, size_t height, size_t width, size_t pixel_bytes);

/** Test-time flip after `fl_model_run_image`: the model's prepared pixels
 *  (`fl_model_pixels`) mirrored into `work` (H x W x C bytes), run, and their scores
 *  averaged into `scores` (the crop's, from `fl_classification_scores`, `labels` of them);
 *  `*top` the first label of the highest mean. */
fl_status fl_classification_flip_pixels(fl_model *model, const fl_input_spec *spec, uint8_t *work, int logits,
                                        float *scores, size_t labels, size_t *top, fl_error *err);

/** Test-time flip after `fl_model_run` on the float `tensor` (spec's H x W x C): the
 *  tensor mirrored in place, run, and averaged as `fl_classification_flip_pixels` does. */
fl_status fl_classification_flip_tensor(fl_model *model, const fl_input_spec *spec, float *tensor, int logits,
                                        float *scores, size_t labels, size_t *top, fl_error *err);

#endif
