/* skin_scores.c: raw skin measures -> scores, bands, tone category (skin_scores.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "bundle.h"
#include "skin_scores.h"
#include "status.h"

#define REGION_ROWS (FL_SKIN_FACE_REGION + 1)

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

/* The region name of row r: `fl_region_name`, then "face". */
static const char *row_name(size_t r)
{
    return r == FL_SKIN_FACE_REGION ? "face" : fl_region_name(r);
}

/* `ScoreMap.__post_init__`: >= 2 pairs of numbers, raw increasing, score decreasing. */
static fl_status read_map(const cJSON *pairs, fl_score_map *out, const char *where, const char *concern,
                          const char *kind, fl_error *err)
{
    const int n = cJSON_GetArraySize(pairs);
    int ok = cJSON_IsArray(pairs) && n >= 2 && n <= FL_SCORE_ANCHOR_MAX;
    size_t k = 0;
    for (const cJSON *pair = ok ? pairs->child : NULL; ok && pair; pair = pair->next, k++) {
        const cJSON *x = cJSON_GetArrayItem(pair, 0), *y = cJSON_GetArrayItem(pair, 1);
        ok = cJSON_IsArray(pair) && cJSON_GetArraySize(pair) == 2 && cJSON_IsNumber(x) && cJSON_IsNumber(y) &&
             isfinite(x->valuedouble) && isfinite(y->valuedouble);
        if (!ok) break;
        out->raw[k] = x->valuedouble;
        out->score[k] = y->valuedouble;
        ok = k == 0 || (out->raw[k] > out->raw[k - 1] && out->score[k] < out->score[k - 1]);
    }
    if (!ok)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.score_anchors.anchors.%s.%s must be 2 to %d "
                       "[raw, score] pairs with raw increasing and score decreasing; rebuild the bundle (facelite-build build "
                       "models/skin_metrics/recipe.toml)", where, concern, kind, FL_SCORE_ANCHOR_MAX);
    out->count = k;
    return FL_OK;
}

fl_status fl_score_table_read(const fl_bundle *bundle, fl_score_table *out, fl_error *err)
{
    const char *where = fl_bundle_path(bundle);
    const cJSON *output = cJSON_GetObjectItemCaseSensitive(bundle->manifest.doc, "output");
    const cJSON *doc = cJSON_GetObjectItemCaseSensitive(output, "score_anchors");
    const cJSON *anchors = cJSON_GetObjectItemCaseSensitive(doc, "anchors");
    const cJSON *kinds = cJSON_GetObjectItemCaseSensitive(doc, "region_kinds");
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(anchors) || !cJSON_IsObject(kinds))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: its manifest has no output.score_anchors (a skin_metrics "
                       "bundle older than this facelite); rebuild it: facelite-build build models/skin_metrics/recipe.toml",
                       where);
    for (int c = 0; c < FL_CONCERN_COUNT; c++) {
        const char *concern = fl_concern_name((fl_concern)c);
        const cJSON *maps = cJSON_GetObjectItemCaseSensitive(anchors, concern);
        if (!cJSON_IsObject(maps))
            return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.score_anchors lacks '%s'; rebuild the bundle", where,
                           concern);
        for (size_t r = 0; r < REGION_ROWS; r++) {
            const cJSON *kind = cJSON_GetObjectItemCaseSensitive(kinds, row_name(r));
            if (!cJSON_IsString(kind))
                return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.score_anchors.region_kinds lacks '%s'; rebuild "
                               "the bundle", where, row_name(r));
            const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(maps, kind->valuestring);
            if (pairs == NULL)
                return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output.score_anchors.anchors.%s lacks the region kind "
                               "'%s' (of '%s'); rebuild the bundle", where, concern, kind->valuestring, row_name(r));
            fl_status st = read_map(pairs, &out->maps[c][r], where, concern, kind->valuestring, err);
            if (st != FL_OK) return st;
        }
    }
    return fl_ok(err);
}

const fl_score_map *fl_score_map_of(const fl_score_table *table, fl_concern concern, size_t region)
{
    if ((int)concern < 0 || (int)concern >= FL_CONCERN_COUNT || region >= REGION_ROWS) return NULL;
    return &table->maps[concern][region];
}

double fl_score_map_score(const fl_score_map *map, double raw)
{
    const size_t n = map->count;
    if (n < 2 || !isfinite(raw)) return NAN;
    const double x0 = map->raw[n - 2], y0 = map->score[n - 2], x1 = map->raw[n - 1], y1 = map->score[n - 1];
    double value;
    if (raw > x1)
        value = y1 + (raw - x1) * (y1 - y0) / (x1 - x0);
    else
        value = interp(raw, map->raw, map->score, n);
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

int fl_concern_score_of(const fl_score_table *table, fl_concern concern, size_t region, double raw,
                        fl_concern_score *out)
{
    const fl_score_map *map = fl_score_map_of(table, concern, region);
    out->measured = isfinite(raw) && map != NULL;
    out->score = out->measured ? fl_score_map_score(map, raw) : NAN;
    out->band = out->measured ? fl_band_of(out->score) : FL_BAND_ATTENTION;
    out->raw = out->measured ? raw : NAN;
    return out->measured;
}

void fl_region_scores(const fl_score_table *table, size_t region, const fl_scored_measures *measures,
                      double acne_severity, fl_concern_score out[FL_CONCERN_COUNT])
{
    for (int c = 0; c < FL_CONCERN_COUNT; c++) {
        const double raw = c == FL_CONCERN_ACNE ? acne_severity : fl_concern_raw((fl_concern)c, measures);
        fl_concern_score_of(table, (fl_concern)c, region, raw, &out[c]);
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
