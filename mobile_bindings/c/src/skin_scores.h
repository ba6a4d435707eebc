/* skin_scores.h: raw skin measures -> 0-100 scores, bands and the ITA° tone category,
 * `facelite.skin_scores` in C (not installed).
 *
 * Each concern's score is the same monotone piecewise-linear map of one raw number, with
 * the same anchors per region kind (`REGION_KINDS`, `HEALTHY_RANGES`, `ACNE_MAP`), as the
 * Python module (whose docstring and docs/skin.md "Scores" say where each anchor comes
 * from; test_skin_scores_parity.py fails, naming the anchor, when the two tables differ);
 * every step is computed in double in the order Python
 * writes it (`np.interp`'s formula inside the anchors, the last segment's slope beyond
 * them), so the two agree to the last bit or so
 * (tests/mobile_bindings/test_skin_scores_parity.py holds them to 1e-9 on edge values,
 * random values and NaN, and to identical bands and categories). */
#ifndef FACELITE_SRC_SKIN_SCORES_H
#define FACELITE_SRC_SKIN_SCORES_H

#include "facelite/analyzer.h"

/** The raw measures of one region the scores read (`RawSkinMeasures.regions[r]`, after
 *  lighting normalisation); NaN for one the region lacks. */
typedef struct fl_scored_measures {
    double redness;
    double spot_fraction;
    double spot_contrast;
    double lightness_sd;
    double b_star_sd;
    double texture;
    double shine;
} fl_scored_measures;

/** The region index of the pseudo-region "face" (after the FL_REGION_COUNT regions). */
#define FL_SKIN_FACE_REGION FL_REGION_COUNT

/** `score_map(concern, region).anchors`: 2 or 3 (raw, score) pairs into `raw`, `score`;
 *  returns how many (0 for an unknown concern or region). `region`: an `fl_region_name`
 *  index or FL_SKIN_FACE_REGION. */
size_t fl_score_anchors(fl_concern concern, size_t region, double raw[3], double score[3]);

/** `score_map(concern, region).score(raw)`: 0-100 (NaN for a non-finite raw). */
double fl_score_of(fl_concern concern, size_t region, double raw);

/** `concern_raw`: the raw number a measured concern (not acne) is read from; NaN when the
 *  region lacks what it needs, or for acne. */
double fl_concern_raw(fl_concern concern, const fl_scored_measures *measures);

/** `band`: judged on the score rounded to a whole number (half to even, as Python's round). */
fl_band fl_band_of(double score);

/** `concern_score`: `out` scored from `raw` in `region`; `out->measured` 0 (score and raw
 *  NaN) when raw is not finite. Returns `out->measured`. */
int fl_concern_score_of(fl_concern concern, size_t region, double raw, fl_concern_score *out);

/** `region_scores`: every concern of `out` (CONCERNS order) from a region's measures and,
 *  for acne, `acne_severity` (NaN: no acne grade for the region). */
void fl_region_scores(size_t region, const fl_scored_measures *measures, double acne_severity,
                      fl_concern_score out[FL_CONCERN_COUNT]);

/** `ita_category`: "very_light" > 55 >= "light" > 41 >= "intermediate" > 28 >= "tan" > 10
 *  >= "brown" > -30 >= "dark" (NaN: "dark", as Python's comparisons fall through). */
const char *fl_ita_category(double ita_deg);

/** Python's round(v, ndigits) for a float and ndigits >= 0 (the decimal correctly rounded
 *  from the binary value, half to even, read back; more than 323 digits: `v` itself);
 *  non-finite values as they are. */
double fl_round_decimals(double v, int ndigits);

/** `round_raw`: `v` to 4 significant digits (to a whole number from 10^4 up); 0 and
 *  non-finite values as they are. */
double fl_round_raw(double v);

#endif
