/* skin_scores.h: raw skin measures -> 0-100 scores, bands and the ITA° tone category,
 * `facelite.skin_scores` in C (not installed).
 *
 * Each concern's score is a monotone piecewise-linear map of one raw number whose anchors
 * are the skin_metrics bundle's `output.score_anchors` (`ScoreTable.from_manifest`: anchors
 * per concern and region kind, and each region's kind), read here from the same manifest
 * the Python runtime reads: one place for the anchors (docs/skin.md "Scores" says where
 * they come from). Every step is computed in double in the order Python writes it
 * (`np.interp`'s formula inside the anchors, the last segment's slope beyond them), so the
 * two agree to the last bit or so (tests/mobile_bindings/test_skin_scores_parity.py holds
 * them to 1e-9 on edge values, random values and NaN, and to identical anchors, bands and
 * categories). */
#ifndef FACELITE_SRC_SKIN_SCORES_H
#define FACELITE_SRC_SKIN_SCORES_H

#include <stddef.h>

#include "facelite/analyzer.h"
#include "facelite/facelite.h"

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

/** The most anchors one score map may have (a bundle with more is refused). */
#define FL_SCORE_ANCHOR_MAX 16

/** One `ScoreMap`: `count` (raw, score) anchors, raw increasing and score decreasing. */
typedef struct fl_score_map {
    size_t count;
    double raw[FL_SCORE_ANCHOR_MAX];
    double score[FL_SCORE_ANCHOR_MAX];
} fl_score_map;

/** `ScoreTable`: the score map of every concern (fl_concern order) in every region
 *  (`fl_region_name` index, then FL_SKIN_FACE_REGION), each region's kind resolved. */
typedef struct fl_score_table {
    fl_score_map maps[FL_CONCERN_COUNT][FL_SKIN_FACE_REGION + 1];
} fl_score_table;

/** `ScoreTable.from_manifest` of a skin_metrics bundle: its `output.score_anchors`
 *  (`anchors` {concern: {kind: [[raw, score], ...]}}, `region_kinds` {region: kind}).
 *  FL_ERR_BUNDLE_INVALID, naming what is missing or wrong, when the block is absent (a
 *  bundle older than 2.1.0), a concern, region or kind lacks anchors, or a map is not
 *  2 to FL_SCORE_ANCHOR_MAX pairs with raw increasing and score decreasing. */
fl_status fl_score_table_read(const fl_bundle *bundle, fl_score_table *out, fl_error *err);

/** `table.score_map(concern, region)`, NULL for an unknown concern or region. `region`:
 *  an `fl_region_name` index or FL_SKIN_FACE_REGION. */
const fl_score_map *fl_score_map_of(const fl_score_table *table, fl_concern concern, size_t region);

/** `ScoreMap.score(raw)`: 0-100 (NaN for a non-finite raw). */
double fl_score_map_score(const fl_score_map *map, double raw);

/** `concern_raw`: the raw number a measured concern (not acne) is read from; NaN when the
 *  region lacks what it needs, or for acne. */
double fl_concern_raw(fl_concern concern, const fl_scored_measures *measures);

/** `band`: judged on the score rounded to a whole number (half to even, as Python's round). */
fl_band fl_band_of(double score);

/** `concern_score`: `out` scored from `raw` in `region` with `table`; `out->measured` 0
 *  (score and raw NaN) when raw is not finite. Returns `out->measured`. */
int fl_concern_score_of(const fl_score_table *table, fl_concern concern, size_t region, double raw,
                        fl_concern_score *out);

/** `region_scores`: every concern of `out` (CONCERNS order) from a region's measures and,
 *  for acne, `acne_severity` (NaN: no acne grade for the region), scored with `table`. */
void fl_region_scores(const fl_score_table *table, size_t region, const fl_scored_measures *measures,
                      double acne_severity, fl_concern_score out[FL_CONCERN_COUNT]);

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
