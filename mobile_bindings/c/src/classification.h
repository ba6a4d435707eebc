/* classification.h: a classifier's outputs read as per-label scores (not installed).
 *
 * `facelite.tasks.ClassificationTask.scores` (output kind `logits` softmaxed in float32,
 * `probabilities` as they are) and `facelite.classifier.to_classifications` (the first
 * label of highest score). */
#ifndef FACELITE_SRC_CLASSIFICATION_H
#define FACELITE_SRC_CLASSIFICATION_H

#include "facelite/analyzer.h"

/** FL_ERR_BUNDLE_INVALID unless `model` outputs one score per label of `bundle`
 *  (`ClassificationTask.check_engine`). */
fl_status fl_classification_check(const fl_bundle *bundle, const fl_model *model, fl_error *err);

/** 1 when the bundle's `output.kind` is "logits" (its scores get a softmax). */
int fl_classification_logits(const fl_bundle *bundle);

/** `count` raw outputs -> `scores` (softmaxed when `logits`); returns the top index. */
size_t fl_classification_scores(const float *outputs, size_t count, int logits, float *scores);

#endif
