/* skin.h: a face's skin measures, `facelite.skin.skin_result` in C (not installed).
 *
 * `acne_severity` is the acne classifier's expected grade, sum of i * p_i over its labels
 * in order (0 = the first label). `redness`, the mean CIELAB a* over the skin regions, is
 * computed in Python with OpenCV's 8-bit Lab conversion; the C core does not port that
 * conversion, so it reports redness as absent rather than as a number that could differ. */
#ifndef FACELITE_SRC_SKIN_H
#define FACELITE_SRC_SKIN_H

#include "facelite/analyzer.h"

/** `skin.acne_severity`: sum of i * p_i in double, in label order. */
double fl_acne_severity(const float *scores, size_t count);

/** The skin measures of a face whose acne classification is `acne` (NULL: no acne stage). */
void fl_skin_measures(const fl_classification *acne, fl_skin *out);

#endif
