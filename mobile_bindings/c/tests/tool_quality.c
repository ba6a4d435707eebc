/* tool_quality.c: the C quality gate on JSON inputs, one JSON line out per line in
 * (driven by tests/mobile_bindings/test_quality_parity.py; not a ctest case).
 *
 *   tool_quality rules      print the check table: [{"code", "threshold", "at_least",
 *                           "restorable", "tolerated", "message"}] in check order
 *   tool_quality assess     read lines {"points": [[x, y] x 68], "box": [x, y, w, h] | null,
 *                           "image_size": [w, h], "capture": {measure: value} | null} from
 *                           stdin; print {"reliable", "restorable", "pose": {"yaw", "pitch",
 *                           "roll"}, "checks": [{"code", "passed", "value", "threshold",
 *                           "message"}]} per line (non-finite numbers as null), or
 *                           {"error": MESSAGE} for a line that is not such an input.
 *
 * Points are read as doubles and stored as float32, as the landmarker gives them (a
 * float32 value printed by Python round-trips exactly). Exit 0, or 2 for a usage error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "quality.h"

static void add_number(cJSON *obj, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

static void print_and_free(cJSON *doc)
{
    char *text = cJSON_PrintUnformatted(doc);
    if (text != NULL) printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(doc);
}

static int print_rules(void)
{
    cJSON *rules = cJSON_CreateArray();
    for (int c = 0; c < FL_CHECK_COUNT; c++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "code", fl_check_name((fl_check_code)c));
        cJSON_AddNumberToObject(r, "threshold", fl_check_threshold((fl_check_code)c));
        cJSON_AddBoolToObject(r, "at_least", fl_check_at_least((fl_check_code)c));
        cJSON_AddBoolToObject(r, "restorable", fl_check_restorable((fl_check_code)c));
        cJSON_AddBoolToObject(r, "tolerated", fl_check_restoration_tolerates((fl_check_code)c));
        cJSON_AddStringToObject(r, "message", fl_check_message((fl_check_code)c));
        cJSON_AddItemToArray(rules, r);
    }
    print_and_free(rules);
    return 0;
}

/* One input line -> the gate's JSON, or NULL with `why` set. */
static cJSON *assess(const char *line, char *why, size_t why_size)
{
    cJSON *in = cJSON_Parse(line), *out = NULL;
    float points[2 * FL_LANDMARK_COUNT];
    double box[4];
    fl_capture capture = {{0}, 0};
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(in, "points");
    const cJSON *jbox = cJSON_GetObjectItemCaseSensitive(in, "box");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(in, "image_size");
    const cJSON *jcap = cJSON_GetObjectItemCaseSensitive(in, "capture");
    if (in == NULL || !cJSON_IsArray(pts) || cJSON_GetArraySize(pts) != FL_LANDMARK_COUNT || !cJSON_IsArray(size) ||
        cJSON_GetArraySize(size) != 2) {
        snprintf(why, why_size, "expected {\"points\": 68 [x, y] pairs, \"image_size\": [w, h], ...}");
        goto done;
    }
    for (int i = 0; i < FL_LANDMARK_COUNT; i++) {
        const cJSON *pair = cJSON_GetArrayItem(pts, i);
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsNumber(cJSON_GetArrayItem(pair, 0)) ||
            !cJSON_IsNumber(cJSON_GetArrayItem(pair, 1))) {
            snprintf(why, why_size, "points[%d]: expected [x, y]", i);
            goto done;
        }
        points[2 * i] = (float)cJSON_GetArrayItem(pair, 0)->valuedouble;
        points[2 * i + 1] = (float)cJSON_GetArrayItem(pair, 1)->valuedouble;
    }
    int has_box = cJSON_IsArray(jbox) && cJSON_GetArraySize(jbox) == 4;
    for (int i = 0; has_box && i < 4; i++) box[i] = cJSON_GetArrayItem(jbox, i)->valuedouble;
    if (cJSON_IsObject(jcap))
        for (int m = 0; m < FL_CAPTURE_COUNT; m++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(jcap, fl_capture_measure_name((fl_capture_measure)m));
            if (cJSON_IsNumber(v)) {
                capture.values[m] = v->valuedouble;
                capture.present |= 1u << m;
            } else if (cJSON_IsNull(v)) { /* a NaN measure, written as null */
                capture.values[m] = NAN;
                capture.present |= 1u << m;
            }
        }
    fl_capture_quality q;
    fl_assess_capture(points, has_box ? box : NULL, cJSON_GetArrayItem(size, 0)->valueint,
                      cJSON_GetArrayItem(size, 1)->valueint, cJSON_IsObject(jcap) ? &capture : NULL, &q);
    out = cJSON_CreateObject();
    cJSON_AddBoolToObject(out, "reliable", q.reliable);
    cJSON_AddBoolToObject(out, "restorable", q.restorable);
    cJSON *pose = cJSON_AddObjectToObject(out, "pose");
    add_number(pose, "yaw", q.pose.yaw);
    add_number(pose, "pitch", q.pose.pitch);
    add_number(pose, "roll", q.pose.roll);
    cJSON *checks = cJSON_AddArrayToObject(out, "checks");
    for (size_t i = 0; i < q.count; i++) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "code", fl_check_name(q.checks[i].code));
        cJSON_AddBoolToObject(c, "passed", q.checks[i].passed);
        add_number(c, "value", q.checks[i].value);
        add_number(c, "threshold", q.checks[i].threshold);
        cJSON_AddStringToObject(c, "message", fl_check_message(q.checks[i].code));
        cJSON_AddItemToArray(checks, c);
    }
done:
    cJSON_Delete(in);
    return out;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "rules") == 0) return print_rules();
    if (argc != 2 || strcmp(argv[1], "assess") != 0) {
        fprintf(stderr, "usage: %s rules | assess < INPUT.jsonl\n", argv[0]);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0) {
        char why[160];
        cJSON *out = assess(line, why, sizeof why);
        if (out == NULL) {
            out = cJSON_CreateObject();
            cJSON_AddStringToObject(out, "error", why);
        }
        print_and_free(out);
    }
    free(line);
    return 0;
}
