/* tool_skin_measures.c: the C skin crop, masks and measures of faces given by their
 * landmarks, one JSON line out per line in (driven by
 * tests/mobile_bindings/test_skin_measures_parity.py; not a ctest case).
 *
 *   tool_skin_measures BUNDLE
 *       read lines {"image": PATH, "points": [[x, y] x 68], "dump": PREFIX | null} from stdin;
 *       print {"matrix": [6], "crop_points": [136], "regions": {row: {measure: v}},
 *       "capture": {name: v}, "tone_ita": v, "lighting": {name: v}, "crop_gains": [r, g, b]}
 *       per line, or
 *       {"error": MESSAGE}; with "dump", also write PREFIX.crop (the crop's bytes, BGR,
 *       256 x 256 x 3) and PREFIX.masks (256 x 256 x 9, interleaved as numpy's array).
 *
 * Points are read as doubles and stored as float32, as the landmarker gives them. Exit 0,
 * or 2 for a usage error or a bundle that does not open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "facelite/facelite.h"
#include "facelite/image.h"
#include "skin_measures.h"

static int write_file(const char *prefix, const char *suffix, const void *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s", prefix, suffix);
    FILE *f = fopen(path, "wb");
    if (f == NULL) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

static cJSON *named(const char *(*name)(size_t), const double *values, size_t count)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < count; i++) cJSON_AddNumberToObject(o, name(i), values[i]);
    return o;
}

static cJSON *measure(fl_skin_measurer *measurer, const char *line, uint8_t *crop, fl_decoded_image *decoded,
                      char *why, size_t why_size)
{
    cJSON *in = cJSON_Parse(line);
    const cJSON *image = cJSON_GetObjectItemCaseSensitive(in, "image");
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(in, "points");
    const cJSON *dump = cJSON_GetObjectItemCaseSensitive(in, "dump");
    float points[2 * FL_LANDMARK_COUNT], crop_points[2 * FL_LANDMARK_COUNT];
    double matrix[6];
    fl_raw_skin raw;
    fl_error err;
    cJSON *out = NULL;
    if (!cJSON_IsString(image) || !cJSON_IsArray(pts) || cJSON_GetArraySize(pts) != FL_LANDMARK_COUNT) {
        snprintf(why, why_size, "expected {\"image\": path, \"points\": 68 [x, y] pairs, \"dump\": prefix|null}");
        goto done;
    }
    for (int i = 0; i < FL_LANDMARK_COUNT; i++) {
        const cJSON *pair = cJSON_GetArrayItem(pts, i);
        points[2 * i] = (float)cJSON_GetArrayItem(pair, 0)->valuedouble;
        points[2 * i + 1] = (float)cJSON_GetArrayItem(pair, 1)->valuedouble;
    }
    const int size = fl_skin_measurer_size(measurer);
    if (fl_image_load(image->valuestring, decoded, &err) != FL_OK ||
        fl_skin_crop(&decoded->image, points, size, crop, matrix, crop_points, &err) != FL_OK ||
        fl_skin_measure_crop(measurer, crop, decoded->image.format, crop_points, &raw, &err) != FL_OK) {
        snprintf(why, why_size, "%s", err.message);
        goto done;
    }
    if (cJSON_IsString(dump)) {
        const size_t n = (size_t)size * (size_t)size;
        if (!write_file(dump->valuestring, ".crop", crop, n * 3) ||
            !write_file(dump->valuestring, ".masks", fl_skin_measurer_masks(measurer), n * FL_SKIN_MASK_COUNT)) {
            snprintf(why, why_size, "cannot write %s.crop / .masks", dump->valuestring);
            goto done;
        }
    }
    out = cJSON_CreateObject();
    cJSON *m = cJSON_AddArrayToObject(out, "matrix");
    for (int i = 0; i < 6; i++) cJSON_AddItemToArray(m, cJSON_CreateNumber(matrix[i]));
    cJSON *cp = cJSON_AddArrayToObject(out, "crop_points");
    for (int i = 0; i < 2 * FL_LANDMARK_COUNT; i++) cJSON_AddItemToArray(cp, cJSON_CreateNumber(crop_points[i]));
    cJSON *regions = cJSON_AddObjectToObject(out, "regions");
    for (size_t r = 0; r < FL_SKIN_ROW_COUNT; r++)
        cJSON_AddItemToObject(regions, fl_skin_row_name(r), named(fl_skin_measure_name, raw.regions[r],
                                                                  FL_SKIN_MEASURE_COUNT));
    cJSON_AddItemToObject(out, "capture", named(fl_skin_capture_name, raw.capture, FL_SKIN_CAPTURE_COUNT));
    cJSON_AddNumberToObject(out, "tone_ita", raw.tone_ita);
    cJSON_AddItemToObject(out, "lighting", named(fl_skin_lighting_name, raw.lighting, FL_SKIN_LIGHTING_COUNT));
    cJSON *gains = cJSON_AddArrayToObject(out, "crop_gains");
    for (int i = 0; i < FL_SKIN_CROP_GAIN_COUNT; i++)
        cJSON_AddItemToArray(gains, cJSON_CreateNumber(raw.crop_gains[i]));
done:
    cJSON_Delete(in);
    return out;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tool_skin_measures BUNDLE < lines of {\"image\", \"points\", \"dump\"}\n");
        return 2;
    }
    fl_error err;
    fl_bundle *bundle = NULL;
    fl_model *model = NULL;
    fl_skin_measurer *measurer = NULL;
    if (fl_bundle_open(argv[1], NULL, &bundle, &err) != FL_OK ||
        fl_model_create(bundle, "fp32", FL_ACCELERATOR_CPU, 2, &model, &err) != FL_OK ||
        fl_skin_measurer_create(bundle, model, &measurer, &err) != FL_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        fl_model_destroy(model);
        fl_bundle_destroy(bundle);
        return 2;
    }
    const int size = fl_skin_measurer_size(measurer);
    uint8_t *crop = malloc((size_t)size * (size_t)size * 4);
    fl_decoded_image decoded;
    fl_decoded_image_init(&decoded);
    char *line = NULL;
    size_t cap = 0;
    while (crop != NULL && getline(&line, &cap, stdin) > 0) {
        char why[FL_ERROR_MESSAGE_MAX + 64] = "";
        cJSON *doc = measure(measurer, line, crop, &decoded, why, sizeof why);
        if (doc == NULL) {
            doc = cJSON_CreateObject();
            cJSON_AddStringToObject(doc, "error", why);
        }
        char *text = cJSON_PrintUnformatted(doc);
        if (text != NULL) printf("%s\n", text);
        fflush(stdout);
        cJSON_free(text);
        cJSON_Delete(doc);
    }
    free(line);
    free(crop);
    fl_decoded_image_release(&decoded);
    fl_skin_measurer_destroy(measurer);
    fl_model_destroy(model);
    fl_bundle_destroy(bundle);
    return 0;
}
