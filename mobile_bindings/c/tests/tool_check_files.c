/* tool_check_files: run one of libfacelite's readers over files, one result line per file.
 *
 *   tool_check_files json|manifest|npy|bundle|choose FILE...
 *
 * Prints "ok" or "error<TAB><status name><TAB><message>" per file, in order ("choose"
 * prints the variant fl_bundle_choose_variant picks per accelerator instead of "ok":
 * "auto=int8 cpu=fp32 gpu=fp16 npu=int8"), so that the Python tests check hundreds of
 * cases against the Python reference (strict JSON, the manifest schema, .npy headers,
 * whole bundles) in one process. Bundles are opened with signatures optional. Exit 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facelite/facelite.h"
#include "files.h"
#include "json.h"
#include "manifest.h"
#include "npy.h"

static fl_status check_bundle(const char *path, int choose, fl_error *err)
{
    static const fl_accelerator all[] = {FL_ACCELERATOR_AUTO, FL_ACCELERATOR_CPU, FL_ACCELERATOR_GPU,
                                         FL_ACCELERATOR_NPU};
    fl_bundle_options options;
    fl_bundle_options_init(&options);
    options.signature = FL_SIGNATURE_OPTIONAL;
    fl_bundle *b;
    fl_status st = fl_bundle_open(path, &options, &b, err);
    if (st != FL_OK) return st;
    if (choose) {
        for (size_t i = 0; i < 4; i++) {
            const char *v = fl_bundle_choose_variant(b, all[i]);
            printf("%s%s=%s", i ? " " : "", fl_accelerator_name(all[i]), v ? v : "none");
        }
    } else {
        printf("ok");
    }
    printf("\n");
    fl_bundle_destroy(b);
    return FL_OK;
}

static fl_status check_file(const char *mode, const char *path, fl_error *err)
{
    uint8_t *data;
    size_t size;
    fl_status st = fl_file_read(path, 64u << 20, "test", &data, &size, err);
    if (st != FL_OK) return st;
    cJSON *doc = NULL;
    fl_array *array = NULL;
    if (strcmp(mode, "json") == 0)
        st = fl_json_parse(data, size, "doc", &doc, err);
    else if (strcmp(mode, "manifest") == 0)
        st = fl_manifest_check(data, size, "manifest.json", &doc, err);
    else
        st = fl_npy_parse(data, size, "npy", &array, err);
    cJSON_Delete(doc);
    fl_array_destroy(array);
    free(data);
    if (st == FL_OK) printf("ok\n");
    return st;
}

int main(int argc, char **argv)
{
    static const char *const modes[] = {"json", "manifest", "npy", "bundle", "choose", NULL};
    int known = 0;
    for (size_t i = 0; argc > 1 && modes[i]; i++) known |= strcmp(argv[1], modes[i]) == 0;
    if (!known) {
        fprintf(stderr, "usage: tool_check_files json|manifest|npy|bundle|choose FILE...\n");
        return 2;
    }
    int bundle = strcmp(argv[1], "bundle") == 0, choose = strcmp(argv[1], "choose") == 0;
    for (int i = 2; i < argc; i++) {
        fl_error err;
        fl_status st = bundle || choose ? check_bundle(argv[i], choose, &err) : check_file(argv[1], argv[i], &err);
        if (st != FL_OK) printf("error\t%s\t%s\n", fl_status_name(st), err.message);
        fflush(stdout);
    }
    return 0;
}
