/* tool_restore.c: the C restoration over image files, for the Python parity test
 * (tests/mobile_bindings/test_restoration_parity.py; not a ctest case).
 *
 *   tool_restore BUNDLE VARIANT OUT_PREFIX IMAGE...
 *
 * The restorer is made once (CPU, 1 thread); image k is decoded (fl_image_load), restored
 * (fl_restore) and its BGR bytes written to OUT_PREFIX<k>.bgr, rows packed. One JSON line per
 * image: {"path": IMAGE, "width": W, "height": H} (the restored size) or {"path": IMAGE,
 * "error": MESSAGE}. Exit 0 unless the restorer cannot be made (1) or the usage is wrong (2). */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "facelite/image.h"
#include "restoration.h"

static void print_line(const char *path, int width, int height, const fl_error *err)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "path", path);
    if (err == NULL) {
        cJSON_AddNumberToObject(doc, "width", width);
        cJSON_AddNumberToObject(doc, "height", height);
    } else {
        cJSON_AddStringToObject(doc, "error", err->message);
    }
    char *line = cJSON_PrintUnformatted(doc);
    if (line != NULL) printf("%s\n", line);
    cJSON_free(line);
    cJSON_Delete(doc);
}

static fl_status restore_file(fl_restorer *restorer, const char *path, const char *out, int *w, int *h,
                              fl_error *err)
{
    fl_decoded_image decoded;
    fl_decoded_image_init(&decoded);
    fl_status st = fl_image_load(path, &decoded, err);
    if (st != FL_OK) return st;
    int s = fl_restorer_scale(restorer);
    *w = decoded.image.width * s;
    *h = decoded.image.height * s;
    size_t bytes = (size_t)*w * (size_t)*h * 3;
    uint8_t *pixels = malloc(bytes);
    st = pixels == NULL ? FL_ERR_NO_MEMORY : fl_restore(restorer, &decoded.image, pixels, (size_t)*w * 3, err);
    if (st == FL_OK) {
        FILE *f = fopen(out, "wb");
        if (f == NULL || fwrite(pixels, 1, bytes, f) != bytes) {
            snprintf(err->message, sizeof err->message, "cannot write %.900s", out);
            st = err->code = FL_ERR_IO;
        }
        if (f != NULL) fclose(f);
    } else if (pixels == NULL) {
        snprintf(err->message, sizeof err->message, "out of memory");
    }
    free(pixels);
    fl_decoded_image_release(&decoded);
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: tool_restore BUNDLE VARIANT OUT_PREFIX IMAGE...\n");
        return 2;
    }
    fl_error err;
    fl_bundle *bundle;
    fl_restorer *restorer;
    if (fl_bundle_open(argv[1], NULL, &bundle, &err) != FL_OK ||
        fl_restorer_create(bundle, argv[2], FL_ACCELERATOR_CPU, 1, &restorer, &err) != FL_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    for (int i = 4; i < argc; i++) {
        char out[4096];
        int w = 0, h = 0;
        snprintf(out, sizeof out, "%s%d.bgr", argv[3], i - 4);
        fl_status st = restore_file(restorer, argv[i], out, &w, &h, &err);
        print_line(argv[i], w, h, st == FL_OK ? NULL : &err);
    }
    fl_restorer_destroy(restorer);
    fl_bundle_destroy(bundle);
    return 0;
}
