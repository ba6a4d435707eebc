/* result_json.c: an analysis result as JSON, `AnalysisResult.to_json`'s document
 * (facelite/analyzer.h, `fl_result_json`).
 *
 * FL_JSON_ROUNDED rounds as the Python side does, so the runner's `--analyze` document
 * reads like `facelite analyze --json`: Python floats with `round(v, n)` (the decimal
 * correctly rounded from the binary value, as printf's "%.*f", read back), numpy float32
 * arrays with `np.round(a, n)` (rint(a * 10^n) / 10^n in float32). FL_JSON_EXACT writes
 * every value unrounded. Either way each number is printed so that it reads back bit
 * for bit (cJSON's own printing may drop the last ulp). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "facelite/analyzer.h"
#include "skin_scores.h"

/* A JSON number that reads back as exactly `v`: the fewest significant digits (from 15)
 * that do, as Python's repr; null for NaN and infinities, as strict_json writes them. */
static cJSON *number(double v)
{
    char text[40];
    if (!isfinite(v)) return cJSON_CreateNull();
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (strtod(text, NULL) == v) break;
    }
    return cJSON_CreateRaw(text);
}

static void add_number(cJSON *object, const char *key, double v)
{
    cJSON_AddItemToObject(object, key, number(v));
}

/* Python's round(v, decimals) for a float. */
static double py_round(double v, int decimals, fl_json_style style)
{
    return style == FL_JSON_EXACT ? v : fl_round_decimals(v, decimals);
}

/* numpy's np.round(v, decimals) of a float32 value. */
static double np_round32(float v, int decimals, fl_json_style style)
{
    if (style == FL_JSON_EXACT) return (double)v;
    const float scale = decimals == 1 ? 10.0f : 100.0f;
    return (double)(rintf(v * scale) / scale);
}

static cJSON *points_json(const float *xy, size_t n, int decimals, fl_json_style style)
{
    cJSON *list = cJSON_CreateArray();
    for (size_t i = 0; list && i < n; i++) {
        cJSON *pair = cJSON_CreateArray();
        if (pair == NULL) break;
        cJSON_AddItemToArray(pair, number(np_round32(xy[2 * i], decimals, style)));
        cJSON_AddItemToArray(pair, number(np_round32(xy[2 * i + 1], decimals, style)));
        cJSON_AddItemToArray(list, pair);
    }
    return list;
}

static cJSON *classification_json(const fl_classification *c, fl_json_style style)
{
    if (c == NULL) return cJSON_CreateNull();
    cJSON *doc = cJSON_CreateObject(), *top = cJSON_AddArrayToObject(doc, "top");
    cJSON_AddItemToArray(top, cJSON_CreateString(c->label));
    cJSON_AddItemToArray(top, number(py_round((double)c->score, 4, style)));
    cJSON *scores = cJSON_AddObjectToObject(doc, "scores");
    for (size_t i = 0; scores && i < c->count; i++)
        add_number(scores, c->labels[i], py_round((double)c->scores[i], 4, style));
    return doc;
}

/* `skin_scores.round_raw` (4 significant digits) unless exact. */
static double raw_round(double v, fl_json_style style)
{
    return style == FL_JSON_EXACT ? v : fl_round_raw(v);
}

/* {concern: {score, band, raw}} of the measured concerns (`ConcernScore.to_json`: the
 * score as a whole number, half to even). */
static cJSON *concerns_json(const fl_concern_score *scores, fl_json_style style)
{
    cJSON *doc = cJSON_CreateObject();
    for (int c = 0; doc && c < FL_CONCERN_COUNT; c++) {
        const fl_concern_score *s = &scores[c];
        if (!s->measured) continue;
        cJSON *one = cJSON_AddObjectToObject(doc, fl_concern_name((fl_concern)c));
        add_number(one, "score", style == FL_JSON_EXACT ? s->score : nearbyint(s->score));
        cJSON_AddStringToObject(one, "band", fl_band_name(s->band));
        add_number(one, "raw", raw_round(s->raw, style));
    }
    return doc;
}

/* `SkinReport.to_json`. */
static cJSON *skin_json(const fl_skin_report *s, fl_json_style style)
{
    if (s == NULL) return cJSON_CreateNull();
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddBoolToObject(doc, "reliable", s->reliable);
    cJSON_AddBoolToObject(doc, "restored", s->restored);
    cJSON *quality = cJSON_AddObjectToObject(doc, "quality");
    cJSON_AddBoolToObject(quality, "reliable", s->reliable);
    cJSON *checks = cJSON_AddArrayToObject(quality, "checks");
    for (size_t i = 0; checks && i < s->check_count; i++) {
        const fl_skin_check *c = &s->checks[i];
        cJSON *check = cJSON_CreateObject();
        cJSON_AddStringToObject(check, "code", c->code);
        cJSON_AddBoolToObject(check, "passed", c->passed);
        add_number(check, "value", raw_round(c->value, style));
        add_number(check, "threshold", c->threshold);
        cJSON_AddStringToObject(check, "message", c->message);
        cJSON_AddItemToArray(checks, check);
    }
    if (s->has_tone) {
        cJSON *tone = cJSON_AddObjectToObject(doc, "tone");
        add_number(tone, "ita_deg", py_round(s->ita_deg, 1, style));
        cJSON_AddStringToObject(tone, "category", s->tone);
    } else {
        cJSON_AddNullToObject(doc, "tone");
    }
    cJSON_AddItemToObject(doc, "face", concerns_json(s->face, style));
    cJSON *regions = cJSON_AddObjectToObject(doc, "regions");
    for (size_t k = 0; regions && k < FL_REGION_COUNT; k++)
        if (s->region_measured[k]) cJSON_AddItemToObject(regions, fl_region_name(k), concerns_json(s->regions[k], style));
    cJSON *lighting = cJSON_AddObjectToObject(doc, "lighting");
    for (size_t i = 0; lighting && i < s->lighting_count; i++)
        add_number(lighting, s->lighting_names[i], raw_round(s->lighting[i], style));
    cJSON *models = cJSON_AddObjectToObject(doc, "models");
    for (size_t i = 0; models && i < s->model_count; i++)
        cJSON_AddStringToObject(models, s->model_names[i], s->model_versions[i]);
    return doc;
}

static cJSON *face_json(const fl_result *r, size_t i, fl_json_style style)
{
    const fl_box *b = fl_result_box(r, i);
    cJSON *doc = cJSON_CreateObject();
    const int64_t track_id = fl_result_track_id(r, i);
    if (track_id >= 0) /* VIDEO only, first (`Face.to_json`) */
        cJSON_AddItemToObject(doc, "track_id", cJSON_CreateNumber((double)track_id));
    cJSON *box = cJSON_AddObjectToObject(doc, "box");
    add_number(box, "x", py_round(b->x, 2, style));
    add_number(box, "y", py_round(b->y, 2, style));
    add_number(box, "w", py_round(b->w, 2, style));
    add_number(box, "h", py_round(b->h, 2, style));
    add_number(box, "score", py_round(b->score, 4, style));
    cJSON_AddItemToObject(doc, "landmarks", points_json(fl_result_landmarks(r, i), FL_LANDMARK_COUNT, 2, style));
    cJSON_AddStringToObject(doc, "landmarks_source", fl_result_landmarks_source(r, i));
    cJSON *regions = cJSON_AddObjectToObject(doc, "regions");
    for (size_t k = 0; regions && k < FL_REGION_COUNT; k++) {
        size_t n;
        const float *poly = fl_result_region_at(r, i, k, &n);
        cJSON_AddItemToObject(regions, fl_region_name(k), points_json(poly, n, 1, style));
    }
    cJSON_AddItemToObject(doc, "expression", classification_json(fl_result_expression(r, i), style));
    cJSON_AddItemToObject(doc, "skin", skin_json(fl_result_skin(r, i), style));
    return doc;
}

static cJSON *result_json(const fl_result *r, fl_json_style style)
{
    cJSON *doc = cJSON_CreateObject();
    int64_t timestamp_ms;
    if (fl_result_timestamp_ms(r, &timestamp_ms)) { /* VIDEO: the frame's, first */
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)timestamp_ms);
        cJSON_AddItemToObject(doc, "timestamp_ms", cJSON_CreateRaw(text));
    }
    cJSON *size = cJSON_AddArrayToObject(doc, "image_size");
    cJSON_AddItemToArray(size, cJSON_CreateNumber(fl_result_image_width(r)));
    cJSON_AddItemToArray(size, cJSON_CreateNumber(fl_result_image_height(r)));
    cJSON_AddStringToObject(doc, "detector", fl_result_detector(r));
    cJSON *stages = cJSON_AddObjectToObject(doc, "stages");
    for (int s = 0; stages && s < FL_STAGE_COUNT; s++)
        cJSON_AddStringToObject(stages, s == FL_STAGE_DETECTOR ? "detector" : fl_stage_bundle_name((fl_stage)s),
                                fl_result_stage(r, (fl_stage)s));
    cJSON *faces = cJSON_AddArrayToObject(doc, "faces");
    for (size_t i = 0; faces && i < fl_result_face_count(r); i++) cJSON_AddItemToArray(faces, face_json(r, i, style));
    const fl_timings *t = fl_result_timings(r);
    const char *names[] = {"load",       "detect",    "landmarks",     "smoothing", "align_regions", "expression",
                           "skin_crop",  "skin_measures", "quality", "restoration", "acne",          "total"};
    const double values[] = {t->load_ms,        t->detect_ms,      t->landmarks_ms,   t->smoothing_ms,
                             t->align_regions_ms, t->expression_ms, t->skin_crop_ms,  t->skin_measures_ms,
                             t->quality_ms,     t->restoration_ms, t->acne_ms,        t->total_ms};
    cJSON *timings = cJSON_AddObjectToObject(doc, "timings_ms");
    for (size_t k = 0; timings && k < sizeof names / sizeof names[0]; k++)
        if (!isnan(values[k])) add_number(timings, names[k], py_round(values[k], 2, style));
    return doc;
}

size_t fl_result_json(const fl_result *r, fl_json_style style, char *buffer, size_t capacity)
{
    if (r == NULL) return 0;
    cJSON *doc = result_json(r, style);
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (text == NULL) return 0;
    size_t n = strlen(text);
    if (buffer != NULL && capacity > 0) {
        size_t copy = n < capacity - 1 ? n : capacity - 1;
        memcpy(buffer, text, copy);
        buffer[copy] = '\0';
    }
    cJSON_free(text);
    return n;
}
