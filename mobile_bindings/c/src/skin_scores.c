/* skin_scores.c: raw skin measures -> scores, bands, tone category (skin_scores.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "skin_scores.h"

#define MAX_ANCHORS 3

/* `skin_scores.REGION_KINDS`: which anchors a region's scores use, by fl_region_name index,
 * then the whole face (FL_SKIN_FACE_REGION). */
enum { FACE, FOREHEAD, NOSE, CHEEK, UNDER_EYE, CHIN, KIND_COUNT };
static const int REGION_KINDS[FL_REGION_COUNT + 1] = {FOREHEAD, NOSE, CHEEK, CHEEK, UNDER_EYE, UNDER_EYE, CHIN, FACE};

/* `skin_scores.HEALTHY_RANGES`: (p10, p90) of each measured concern's raw number over the
 * healthy reference faces, by concern (fl_concern order, acne unused) and region kind. */
static const double HEALTHY_RANGES[FL_CONCERN_COUNT][KIND_COUNT][2] = {
    [FL_CONCERN_REDNESS] = {{1.9, 4.8}, {0.97, 3.9}, {1.2, 7.5}, {0.97, 5.8}, {-1.3, 5.0}, {2.4, 11.0}},
    [FL_CONCERN_PIGMENTATION] = {{39.0, 100.0}, {38.0, 170.0}, {23.0, 160.0}, {3.1, 250.0}, {10.0, 480.0}, {19.0, 160.0}},
    [FL_CONCERN_EVENNESS] = {{9.4, 18.0}, {9.0, 23.0}, {6.8, 13.0}, {5.1, 12.0}, {4.6, 18.0}, {7.1, 16.0}},
    [FL_CONCERN_TEXTURE] = {{1.3, 2.4}, {1.2, 3.1}, {1.4, 2.9}, {0.71, 2.9}, {0.92, 5.7}, {1.0, 2.9}},
    [FL_CONCERN_SHINE] = {{0.084, 1.2}, {0.0, 0.94}, {0.0, 6.0}, {0.0, 0.84}, {0.0, 8.7}, {0.0, 2.2}},
};

/* `skin_scores.ACNE_MAP`, the same for the face and every graded region. */
static const double ACNE_RAW[] = {0.0, 0.5, 1.5}, ACNE_SCORE[] = {100.0, 70.0, 40.0};

static const char *const CONCERN_NAMES[FL_CONCERN_COUNT] = {"acne",     "redness", "pigmentation",
                                                            "evenness", "texture", "shine"};
static const char *const BAND_NAMES[] = {"good", "fair", "attention"};

#define GOOD_FROM 70.0
#define FAIR_FROM 40.0

const char *fl_concern_name(fl_concern concern)
{
    return (int)concern >= 0 && (int)concern < FL_CONCERN_COUNT ? CONCERN_NAMES[concern] : NULL;
}

const char *fl_band_name(fl_band band)
{
    return (int)band >= 0 && (int)band <= (int)FL_BAND_ATTENTION ? BAND_NAMES[band] : NULL;
}

/* numpy's interp for x in [xp[0], xp[n - 1]] (or below: fp[0]), its formula and checks. */
static double interp(double x, const double *xp, const double *fp, size_t n)
{
    if (x < xp[0]) return fp[0];
    if (x == xp[n - 1]) return fp[n - 1];
    size_t j = 0;
    while (j + 1 < n && xp[j + 1] <= x) j++;
    if (xp[j] == x) return fp[j];
    const double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    double v = slope * (x - xp[j]) + fp[j];
    if (isnan(v)) {
        v = slope * (x - xp[j + 1]) + fp[j + 1];
        if (isnan(v) && fp[j] == fp[j + 1]) v = fp[j];
    }
    return v;
}

size_t fl_score_anchors(fl_concern concern, size_t region, double raw[3], double score[3])
{
    if ((int)concern < 0 || (int)concern >= FL_CONCERN_COUNT || region > FL_SKIN_FACE_REGION) return 0;
    if (concern == FL_CONCERN_ACNE) {
        memcpy(raw, ACNE_RAW, sizeof ACNE_RAW);
        memcpy(score, ACNE_SCORE, sizeof ACNE_SCORE);
        return 3;
    }
    const double *range = HEALTHY_RANGES[concern][REGION_KINDS[region]]; /* `healthy_map` */
    raw[0] = range[0], raw[1] = range[1];
    score[0] = 100.0, score[1] = 70.0;
    return 2;
}

double fl_score_of(fl_concern concern, size_t region, double raw)
{
    double xs[MAX_ANCHORS], ys[MAX_ANCHORS];
    const size_t n = fl_score_anchors(concern, region, xs, ys);
    if (n == 0 || !isfinite(raw)) return NAN;
    const double x0 = xs[n - 2], y0 = ys[n - 2], x1 = xs[n - 1], y1 = ys[n - 1];
    double value;
    if (raw > x1)
        value = y1 + (raw - x1) * (y1 - y0) / (x1 - x0);
    else
        value = interp(raw, xs, ys, n);
    value = value > 0.0 ? value : 0.0; /* max(0.0, value) */
    return 100.0 < value ? 100.0 : value;
}

double fl_concern_raw(fl_concern concern, const fl_scored_measures *m)
{
    switch (concern) {
    case FL_CONCERN_REDNESS:
        return m->redness;
    case FL_CONCERN_PIGMENTATION:
        return 100.0 * m->spot_fraction * m->spot_contrast;
    case FL_CONCERN_EVENNESS:
        return hypot(m->lightness_sd, m->b_star_sd);
    case FL_CONCERN_TEXTURE:
        return m->texture;
    case FL_CONCERN_SHINE:
        return 100.0 * m->shine;
    default:
        return NAN;
    }
}

fl_band fl_band_of(double score)
{
    const double s = nearbyint(score); /* round half to even, as Python's round() */
    return s >= GOOD_FROM ? FL_BAND_GOOD : s >= FAIR_FROM ? FL_BAND_FAIR : FL_BAND_ATTENTION;
}

int fl_concern_score_of(fl_concern concern, size_t region, double raw, fl_concern_score *out)
{
    out->measured = isfinite(raw) && (int)concern >= 0 && (int)concern < FL_CONCERN_COUNT && region <= FL_SKIN_FACE_REGION;
    out->score = out->measured ? fl_score_of(concern, region, raw) : NAN;
    out->band = out->measured ? fl_band_of(out->score) : FL_BAND_ATTENTION;
    out->raw = out->measured ? raw : NAN;
    return out->measured;
}

void fl_region_scores(size_t region, const fl_scored_measures *measures, double acne_severity,
                      fl_concern_score out[FL_CONCERN_COUNT])
{
    for (int c = 0; c < FL_CONCERN_COUNT; c++) {
        const double raw = c == FL_CONCERN_ACNE ? acne_severity : fl_concern_raw((fl_concern)c, measures);
        fl_concern_score_of((fl_concern)c, region, raw, &out[c]);
    }
}

const char *fl_ita_category(double ita_deg)
{
    static const struct {
        double bound;
        const char *name;
    } CATEGORIES[] = {{55.0, "very_light"}, {41.0, "light"}, {28.0, "intermediate"}, {10.0, "tan"}, {-30.0, "brown"}};
    for (size_t i = 0; i < sizeof CATEGORIES / sizeof CATEGORIES[0]; i++)
        if (ita_deg > CATEGORIES[i].bound) return CATEGORIES[i].name;
    return "dark";
}

/* CPython's float round: ndigits above NDIGITS_MAX leave the value as it is. */
#define NDIGITS_MAX 323

double fl_round_decimals(double v, int ndigits)
{
    char text[700]; /* 309 integer digits, the point, 323 decimals, the sign */
    if (!isfinite(v) || ndigits > NDIGITS_MAX) return v;
    snprintf(text, sizeof text, "%.*f", ndigits < 0 ? 0 : ndigits, v);
    return strtod(text, NULL);
}

double fl_round_raw(double v)
{
    if (!isfinite(v) || v == 0.0) return v;
    const int digits = 3 - (int)floor(log10(fabs(v)));
    return fl_round_decimals(v, digits > 0 ? digits : 0);
}
