/* tool_skin_scores.c: the C score formulas (skin_scores.h) on JSON inputs, one JSON line out
 * per line in (driven by tests/mobile_bindings/test_skin_scores_parity.py; not a ctest case).
 *
 *   tool_skin_scores BUNDLE < LINES
 *
 * BUNDLE: a skin_metrics bundle, whose `output.score_anchors` are the anchors scored with.
 * Each line is one of
 *   {"region": r, "measures": {measure: value}, "acne": value}
 *                                 -> {"scores": {concern: {"score", "band", "raw"}}}
 *                                    (`skin_scores.region_scores`; measured concerns only)
 *   {"concern": name, "region": r, "raw": value}
 *                                 -> {"score": value} (`table.score_map(name, r).score`)
 *   {"anchors": true}             -> {"anchors": {concern: {region: [[raw, score], ...]}}}
 *   {"ita": value}                                 -> {"category": name}
 *   {"round_raw": value}                           -> {"value": value}
 * A value is a JSON number or one of the strings "nan", "inf", "-inf" (a missing measure
 * or acne: NaN), a region one of `fl_region_name` or "face"; numbers out are printed so
 * that they read back bit for bit, non-finite ones as those strings. An unreadable line
 * gives {"error": MESSAGE}. Exit 0, or 2 for a usage error or a bundle whose anchors do not
 * read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "facelite/facelite.h"
#include "skin_scores.h"

static double value_of(const cJSON *v)
{
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "inf") == 0) return INFINITY;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "-inf") == 0) return -INFINITY;
    return NAN;
}

static void add_value(cJSON *obj, const char *key, double v)
{
    char text[40];
    if (isnan(v)) {
        cJSON_AddStringToObject(obj, key, "nan");
    } else if (isinf(v)) {
        cJSON_AddStringToObject(obj, key, v > 0 ? "inf" : "-inf");
    } else if (v == 0.0) {
        cJSON_AddRawToObject(obj, key, signbit(v) ? "-0.0" : "0.0");
    } else {
        for (int digits = 15; digits <= 17; digits++) {
            snprintf(text, sizeof text, "%.*g", digits, v);
            if (strtod(text, NULL) == v) break;
        }
        cJSON_AddRawToObject(obj, key, text);
    }
}

/* The region index of a name (`fl_region_name`, or "face": FL_SKIN_FACE_REGION); -1 if none. */
static int region_index(const cJSON *name)
{
    if (!cJSON_IsString(name)) return -1;
    if (strcmp(name->valuestring, "face") == 0) return FL_SKIN_FACE_REGION;
    for (size_t k = 0; k < FL_REGION_COUNT; k++)
        if (strcmp(name->valuestring, fl_region_name(k)) == 0) return (int)k;
    return -1;
}

static cJSON *anchors(const fl_score_table *table)
{
    cJSON *out = cJSON_CreateObject(), *all = cJSON_AddObjectToObject(out, "anchors");
    for (int c = 0; c < FL_CONCERN_COUNT; c++) {
        cJSON *concern = cJSON_AddObjectToObject(all, fl_concern_name((fl_concern)c));
        for (size_t r = 0; r <= FL_SKIN_FACE_REGION; r++) {
            const fl_score_map *map = fl_score_map_of(table, (fl_concern)c, r);
            cJSON *list = cJSON_AddArrayToObject(concern, r == FL_SKIN_FACE_REGION ? "face" : fl_region_name(r));
            for (size_t k = 0; k < map->count; k++) {
                cJSON *pair = cJSON_CreateObject();
                add_value(pair, "raw", map->raw[k]);
                add_value(pair, "score", map->score[k]);
                cJSON_AddItemToArray(list, pair);
            }
        }
    }
    return out;
}

static cJSON *region(const fl_score_table *table, const cJSON *in)
{
    const int r = region_index(cJSON_GetObjectItemCaseSensitive(in, "region"));
    if (r < 0) return NULL;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(in, "measures");
    fl_scored_measures measures = {
        value_of(cJSON_GetObjectItemCaseSensitive(m, "redness")),
        value_of(cJSON_GetObjectItemCaseSensitive(m, "spot_fraction")),
        value_of(cJSON_GetObjectItemCaseSensitive(m, "spot_contrast")),
        value_of(cJSON_GetObjectItemCaseSensitive(m, "lightness_sd")),
        value_of(cJSON_GetObjectItemCaseSensitive(m, "b_star_sd")),
        value_of(cJSON_GetObjectItemCaseSensitive(m, "texture")),
        value_of(cJSON_GetObjectItemCaseSensitive(m, "shine")),
    };
    fl_concern_score scores[FL_CONCERN_COUNT];
    fl_region_scores(table, (size_t)r, &measures, value_of(cJSON_GetObjectItemCaseSensitive(in, "acne")), scores);
    cJSON *out = cJSON_CreateObject(), *all = cJSON_AddObjectToObject(out, "scores");
    for (int c = 0; c < FL_CONCERN_COUNT; c++) {
        if (!scores[c].measured) continue;
        cJSON *one = cJSON_AddObjectToObject(all, fl_concern_name((fl_concern)c));
        add_value(one, "score", scores[c].score);
        cJSON_AddStringToObject(one, "band", fl_band_name(scores[c].band));
        add_value(one, "raw", scores[c].raw);
    }
    return out;
}

static cJSON *answer(const fl_score_table *table, const cJSON *in)
{
    cJSON *out;
    const cJSON *concern = cJSON_GetObjectItemCaseSensitive(in, "concern");
    if (cJSON_GetObjectItemCaseSensitive(in, "measures") != NULL) return region(table, in);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "anchors"))) return anchors(table);
    if (cJSON_IsString(concern)) {
        const int r = region_index(cJSON_GetObjectItemCaseSensitive(in, "region"));
        for (int c = 0; r >= 0 && c < FL_CONCERN_COUNT; c++) {
            if (strcmp(concern->valuestring, fl_concern_name((fl_concern)c)) != 0) continue;
            out = cJSON_CreateObject();
            add_value(out, "score", fl_score_map_score(fl_score_map_of(table, (fl_concern)c, (size_t)r),
                                                       value_of(cJSON_GetObjectItemCaseSensitive(in, "raw"))));
            return out;
        }
        return NULL;
    }
    if (cJSON_GetObjectItemCaseSensitive(in, "ita") != NULL) {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "category", fl_ita_category(value_of(cJSON_GetObjectItemCaseSensitive(in, "ita"))));
        return out;
    }
    if (cJSON_GetObjectItemCaseSensitive(in, "round_raw") != NULL) {
        out = cJSON_CreateObject();
        add_value(out, "value", fl_round_raw(value_of(cJSON_GetObjectItemCaseSensitive(in, "round_raw"))));
        return out;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static char line[1 << 16];
    static fl_score_table table;
    fl_bundle *bundle = NULL;
    fl_error err;
    if (argc != 2) {
        fprintf(stderr, "usage: tool_skin_scores SKIN_METRICS_BUNDLE < lines\n");
        return 2;
    }
    fl_status st = fl_bundle_open(argv[1], NULL, &bundle, &err);
    if (st == FL_OK) st = fl_score_table_read(bundle, &table, &err);
    fl_bundle_destroy(bundle);
    if (st != FL_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 2;
    }
    while (fgets(line, sizeof line, stdin) != NULL) {
        cJSON *in = cJSON_Parse(line), *out = in ? answer(&table, in) : NULL;
        if (out == NULL) {
            out = cJSON_CreateObject();
            cJSON_AddStringToObject(out, "error", "not a tool_skin_scores input line");
        }
        char *text = cJSON_PrintUnformatted(out);
        if (text != NULL) printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(out);
        cJSON_Delete(in);
    }
    return 0;
}
