/* tool_analyze.c: the C face pipeline over image files, one exact JSON line per file
 * (driven by tests/mobile_bindings/test_pipeline_parity.py; not a ctest case).
 *
 *   tool_analyze BUNDLES_DIR VARIANT ACCELERATOR THREADS [--rgba] [--no-skin] [--restore] IMAGE...
 *
 * Each line is {"path": IMAGE, "result": fl_result_json(FL_JSON_EXACT), "acne": [LABEL or
 * null per face]} (`fl_result_acne`'s label, which the result JSON does not carry) or
 * {"path": IMAGE, "error": MESSAGE, "status": NAME}. The analyzer is made once, so the
 * lines also show it reusing its buffers from image to image. With --rgba each decoded
 * image is handed to fl_analyze as RGBA with a padded stride (what an Android Bitmap
 * gives), which must not change any answer. --no-skin and --restore set the options'
 * `skin` 0 and `restore` 1. Exit 0 unless the analyzer cannot be made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "facelite/analyzer.h"

static void print_line(const char *path, const fl_result *result, const fl_error *err)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "path", path);
    if (result != NULL) {
        size_t n = fl_result_json(result, FL_JSON_EXACT, NULL, 0);
        char *text = malloc(n + 1);
        if (text != NULL && fl_result_json(result, FL_JSON_EXACT, text, n + 1) == n)
            cJSON_AddRawToObject(doc, "result", text);
        free(text);
        cJSON *acne = cJSON_AddArrayToObject(doc, "acne");
        for (size_t i = 0; i < fl_result_face_count(result); i++) {
            const fl_classification *c = fl_result_acne(result, i);
            cJSON_AddItemToArray(acne, c != NULL ? cJSON_CreateString(c->label) : cJSON_CreateNull());
        }
    } else {
        cJSON_AddStringToObject(doc, "error", err->message);
        cJSON_AddStringToObject(doc, "status", fl_status_name(err->code));
    }
    char *line = cJSON_PrintUnformatted(doc);
    if (line != NULL) printf("%s\n", line);
    cJSON_free(line);
    cJSON_Delete(doc);
}

/* The decoded BGR pixels as RGBA rows of width * 4 + 12 bytes (alpha 255). */
static fl_status analyze_rgba(fl_analyzer *analyzer, const char *path, const fl_result **out, fl_error *err)
{
    fl_decoded_image decoded;
    fl_decoded_image_init(&decoded);
    fl_status st = fl_image_load(path, &decoded, err);
    if (st != FL_OK) return st;
    const fl_image *bgr = &decoded.image;
    size_t stride = (size_t)bgr->width * 4 + 12;
    uint8_t *rgba = calloc((size_t)bgr->height, stride);
    if (rgba == NULL) {
        fl_decoded_image_release(&decoded);
        err->code = FL_ERR_NO_MEMORY;
        snprintf(err->message, sizeof err->message, "out of memory");
        return FL_ERR_NO_MEMORY;
    }
    for (int y = 0; y < bgr->height; y++) {
        const uint8_t *src = bgr->pixels + (size_t)y * bgr->stride;
        uint8_t *dst = rgba + (size_t)y * stride;
        for (int x = 0; x < bgr->width; x++) {
            dst[4 * x] = src[3 * x + 2];
            dst[4 * x + 1] = src[3 * x + 1];
            dst[4 * x + 2] = src[3 * x];
            dst[4 * x + 3] = 255;
        }
    }
    fl_image image = {rgba, bgr->width, bgr->height, stride, FL_PIXELS_RGBA};
    st = fl_analyze(analyzer, &image, out, err);
    free(rgba);
    fl_decoded_image_release(&decoded);
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s BUNDLES_DIR VARIANT ACCELERATOR THREADS [--rgba] [--no-skin] [--restore] IMAGE...\n", argv[0]);
        return 2;
    }
    fl_analyzer_options options;
    fl_analyzer *analyzer;
    fl_error err;
    fl_analyzer_options_init(&options);
    options.bundles_dir = argv[1];
    options.variant = argv[2];
    options.threads = atoi(argv[4]);
    int first = 5, rgba = 0;
    for (; first < argc && strncmp(argv[first], "--", 2) == 0; first++) {
        if (strcmp(argv[first], "--rgba") == 0) {
            rgba = 1;
        } else if (strcmp(argv[first], "--no-skin") == 0) {
            options.skin = 0;
        } else if (strcmp(argv[first], "--restore") == 0) {
            options.restore = 1;
        } else {
            fprintf(stderr, "error: unknown option %s\n", argv[first]);
            return 2;
        }
    }
    if (fl_accelerator_parse(argv[3], &options.accelerator, &err) != FL_OK ||
        fl_analyzer_create(&options, &analyzer, &err) != FL_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 2;
    }
    for (int i = first; i < argc; i++) {
        const fl_result *result = NULL;
        fl_status st = rgba ? analyze_rgba(analyzer, argv[i], &result, &err)
                            : fl_analyze_file(analyzer, argv[i], &result, &err);
        print_line(argv[i], st == FL_OK ? result : NULL, &err);
    }
    fl_analyzer_destroy(analyzer);
    return 0;
}
