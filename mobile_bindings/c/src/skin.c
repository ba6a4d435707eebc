/* skin.c: acne severity; redness reported as not computed (skin.h). */
#include <math.h>

#include "skin.h"

double fl_acne_severity(const float *scores, size_t count)
{
    double sum = 0.0; /* Python: sum(i * p for i, p in enumerate(scores)), floats */
    for (size_t i = 0; i < count; i++) sum += (double)i * (double)scores[i];
    return sum;
}

void fl_skin_measures(const fl_classification *acne, fl_skin *out)
{
    out->has_redness = 0;
    out->redness = NAN;
    out->has_acne_severity = acne != NULL;
    out->acne_severity = acne != NULL ? fl_acne_severity(acne->scores, acne->count) : NAN;
}
