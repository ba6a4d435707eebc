/*
 * tool_prepare: the C decoder and preprocessing on real files, for the Python parity tests
 * (tests/mobile_bindings/test_c_preprocess.py compares what it writes with
 * facelite.image.load_image and facelite.preprocess.prepare on the same files).
 *
 *   tool_prepare decode IMAGE OUT.npy
 *       decode IMAGE (fl_image_load) and write its BGR pixels, (H, W, 3) uint8.
 *   tool_prepare prepare JOBS
 *       JOBS holds one job per line, tab-separated: IMAGE, the manifest's `input` block as
 *       JSON, a face box "x,y,w,h" (or "-"), an output prefix. Writes PREFIX.pixels.npy
 *       (uint8, steps 1-4) and PREFIX.tensor.npy (float32, steps 1-5) and prints one JSON
 *       line per job: {"placement": [ox, oy, sx, sy]} or {"error": "..."}.
 *
 * Exit status: 0 when every job succeeded, 1 otherwise, 2 for a usage error.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facelite/facelite.h"
#include "facelite/image.h"
#include "facelite/preprocess.h"
#include "files.h"

/* Write a C-order .npy (format 1.0) of `rank` dimensions. */
static int write_npy(const char *path, const char *descr, const int64_t *shape, int rank, const void *data,
                     size_t bytes)
{
    char header[256];
    int n, i;
    FILE *f;
    n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (i = 0; i < rank; i++)
        n += snprintf(header + n, sizeof header - (size_t)n, "%lld, ", (long long)shape[i]);
    n += snprintf(header + n, sizeof header - (size_t)n, "), }");
    while ((10 + n + 1) % 64 != 0)
        header[n++] = ' ';
    header[n++] = '\n';
    f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(n & 0xFF, f);
    fputc(n >> 8, f);
    fwrite(header, 1, (size_t)n, f);
    fwrite(data, 1, bytes, f);
    return fclose(f) == 0;
}

static int parse_spec(const char *json, fl_input_spec *spec, char *why, size_t why_size)
{
    static const char *const colors[] = {"rgb", "bgr", "gray", "gray_as_rgb"};
    static const char *const resizes[] = {"bilinear", "area", "nearest"};
    static const char *const crops[] = {"none", "face", "letterbox"};
    cJSON *root = cJSON_Parse(json);
    const cJSON *shape, *v;
    int i, ok = 0;
    memset(spec, 0, sizeof *spec);
    if (root == NULL) {
        snprintf(why, why_size, "the spec is not JSON");
        return 0;
    }
    shape = cJSON_GetObjectItemCaseSensitive(root, "shape");
    if (cJSON_GetArraySize(shape) != 4) {
        snprintf(why, why_size, "spec.shape is not [1, H, W, C]");
        goto done;
    }
    spec->height = cJSON_GetArrayItem(shape, 1)->valueint;
    spec->width = cJSON_GetArrayItem(shape, 2)->valueint;
    spec->channels = cJSON_GetArrayItem(shape, 3)->valueint;
    spec->color = (fl_color)-1;
    spec->resize = (fl_resize)-1;
    spec->crop = FL_CROP_NONE;
    v = cJSON_GetObjectItemCaseSensitive(root, "color");
    for (i = 0; i < 4; i++)
        if (cJSON_IsString(v) && strcmp(v->valuestring, colors[i]) == 0)
            spec->color = (fl_color)i;
    v = cJSON_GetObjectItemCaseSensitive(root, "resize");
    for (i = 0; i < 3; i++)
        if (cJSON_IsString(v) && strcmp(v->valuestring, resizes[i]) == 0)
            spec->resize = (fl_resize)i;
    v = cJSON_GetObjectItemCaseSensitive(root, "crop");
    for (i = 0; i < 3; i++)
        if (cJSON_IsString(v) && strcmp(v->valuestring, crops[i]) == 0)
            spec->crop = (fl_crop)i;
    v = cJSON_GetObjectItemCaseSensitive(root, "margin");
    spec->margin = cJSON_IsNumber(v) ? v->valuedouble : 0.0;
    for (i = 0; i < spec->channels && i < 3; i++) {
        spec->mean[i] = (float)cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "mean"), i)->valuedouble;
        spec->std[i] = (float)cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "std"), i)->valuedouble;
    }
    ok = 1;
done:
    cJSON_Delete(root);
    return ok;
}

static void print_error(const char *message)
{
    cJSON *o = cJSON_CreateObject();
    char *text;
    cJSON_AddStringToObject(o, "error", message);
    text = cJSON_PrintUnformatted(o);
    printf("%s\n", text);
    free(text);
    cJSON_Delete(o);
}

static int decode(const char *image, const char *out)
{
    fl_decoded_image img;
    fl_error err;
    int64_t shape[3];
    int ok;
    fl_decoded_image_init(&img);
    if (fl_image_load(image, &img, &err) != FL_OK) {
        print_error(err.message);
        fl_decoded_image_release(&img);
        return 1;
    }
    shape[0] = img.image.height;
    shape[1] = img.image.width;
    shape[2] = 3;
    ok = write_npy(out, "|u1", shape, 3, img.image.pixels, img.image.stride * (size_t)img.image.height);
    printf("{\"orientation\": %d}\n", img.orientation);
    fl_decoded_image_release(&img);
    return ok ? 0 : 1;
}

static int prepare(const char *jobs_path)
{
    uint8_t *jobs;
    size_t size;
    fl_error err;
    fl_decoded_image img;
    fl_scratch *scratch;
    char *line, *save = NULL, last[4096] = "";
    int failures = 0;
    if (fl_file_read(jobs_path, (uint64_t)1 << 26, "jobs", &jobs, &size, &err) != FL_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 2;
    }
    jobs = realloc(jobs, size + 1);
    jobs[size] = '\0';
    fl_decoded_image_init(&img);
    fl_scratch_create(&scratch, NULL);
    for (line = strtok_r((char *)jobs, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *fields[4], *cut = line, path[4200], why[256];
        fl_input_spec spec;
        fl_placement where;
        double box[4];
        int have_box, i;
        size_t count;
        uint8_t *pixels;
        float *tensor;
        int64_t shape[3];
        for (i = 0; i < 4; i++) {
            fields[i] = cut;
            cut = i < 3 ? strchr(cut, '\t') : NULL;
            if (i < 3 && cut == NULL)
                break;
            if (cut != NULL)
                *cut++ = '\0';
        }
        if (i < 4) {
            print_error("a job line needs 4 tab-separated fields");
            failures++;
            continue;
        }
        if (!parse_spec(fields[1], &spec, why, sizeof why)) {
            print_error(why);
            failures++;
            continue;
        }
        have_box = strcmp(fields[2], "-") != 0 &&
                   sscanf(fields[2], "%lf,%lf,%lf,%lf", &box[0], &box[1], &box[2], &box[3]) == 4;
        if (strcmp(last, fields[0]) != 0) {
            last[0] = '\0';
            if (fl_image_load(fields[0], &img, &err) != FL_OK) {
                print_error(err.message);
                failures++;
                continue;
            }
            snprintf(last, sizeof last, "%s", fields[0]);
        }
        count = (size_t)spec.height * (size_t)spec.width * (size_t)spec.channels;
        pixels = malloc(count);
        tensor = malloc(count * sizeof(float));
        if (fl_prepare_pixels(&img.image, &spec, have_box ? box : NULL, pixels, &where, scratch, &err) != FL_OK ||
            fl_prepare(&img.image, &spec, have_box ? box : NULL, tensor, NULL, scratch, &err) != FL_OK) {
            print_error(err.message);
            failures++;
        } else {
            shape[0] = spec.height;
            shape[1] = spec.width;
            shape[2] = spec.channels;
            snprintf(path, sizeof path, "%s.pixels.npy", fields[3]);
            i = write_npy(path, "|u1", shape, 3, pixels, count);
            snprintf(path, sizeof path, "%s.tensor.npy", fields[3]);
            i = i && write_npy(path, "<f4", shape, 3, tensor, count * sizeof(float));
            if (!i) {
                print_error("cannot write the output files");
                failures++;
            } else {
                printf("{\"placement\": [%.17g, %.17g, %.17g, %.17g]}\n", where.origin_x, where.origin_y,
                       where.step_x, where.step_y);
            }
        }
        free(pixels);
        free(tensor);
    }
    fl_scratch_destroy(scratch);
    fl_decoded_image_release(&img);
    free(jobs);
    return failures == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "decode") == 0)
        return decode(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "prepare") == 0)
        return prepare(argv[2]);
    fprintf(stderr, "usage: tool_prepare decode IMAGE OUT.npy | tool_prepare prepare JOBS\n");
    return 2;
}
