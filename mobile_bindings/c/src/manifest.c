/* manifest.c: manifest.json validated and read (see manifest.h). */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "schema.h"
#include "status.h"

const char *const FL_VARIANT_NAMES[FL_MAX_VARIANTS] = {"fp32", "fp16", "dynamic", "int8"};

static const cJSON *get(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static const char *get_string(const cJSON *obj, const char *key, const char *fallback)
{
    const cJSON *v = get(obj, key);
    return cJSON_IsString(v) ? v->valuestring : fallback;
}

static int enum_index(const char *value, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(value, names[i]) == 0) return i;
    return -1;
}

static fl_dtype dtype_of(const char *name)
{
    return strcmp(name, "int8") == 0 ? FL_DTYPE_INT8 : FL_DTYPE_FLOAT32;
}

static fl_status validate(const cJSON *doc, const char *where, fl_error *err)
{
    if (!cJSON_IsObject(doc)) {
        static const char *const kinds[] = {"list", "str", "float", "bool", "NoneType"};
        const char *kind = cJSON_IsArray(doc)    ? kinds[0]
                           : cJSON_IsString(doc) ? kinds[1]
                           : cJSON_IsNumber(doc) ? kinds[2]
                           : cJSON_IsBool(doc)   ? kinds[3]
                                                 : kinds[4];
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: is not a JSON object (got %s)", where, kind);
    }
    const cJSON *version = get(doc, "schema_version");
    if (!cJSON_IsNumber(version) || version->valuedouble != 1) {
        char shown[220] = "None"; /* as Python's repr() shows it */
        if (cJSON_IsString(version)) {
            snprintf(shown, sizeof shown, "'%.200s'", version->valuestring);
        } else if (cJSON_IsBool(version)) {
            snprintf(shown, sizeof shown, "%s", cJSON_IsTrue(version) ? "True" : "False");
        } else if (cJSON_IsNumber(version)) {
            snprintf(shown, sizeof shown, "%.15g", version->valuedouble);
        } else if (version && !cJSON_IsNull(version)) {
            char *text = cJSON_PrintUnformatted(version);
            if (text) snprintf(shown, sizeof shown, "%.200s", text);
            free(text);
        }
        return fl_fail(err, FL_ERR_UNSUPPORTED,
                       "%s: schema_version %s is not supported (this facelite reads 1); rebuild the bundle or upgrade "
                       "facelite",
                       where, shown);
    }
    cJSON *schema;
    fl_status st = fl_manifest_schema(1, &schema, err);
    if (st != FL_OK) return st;
    size_t problems = 0;
    char first[768];
    st = fl_schema_check(doc, schema, &problems, first, sizeof first, err);
    cJSON_Delete(schema);
    if (st != FL_OK) return st;
    if (problems == 1) return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: %s", where, first);
    if (problems > 1)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: %s (and %zu more problem%s)", where, first, problems - 1,
                       problems > 2 ? "s" : "");
    /* The rules JSON Schema cannot state (the schema's description lists them). */
    const cJSON *input = get(doc, "input");
    int channels = cJSON_GetArrayItem(get(input, "shape"), 3)->valueint;
    const char *color = get_string(input, "color", "");
    const cJSON *extra_list = get(input, "extra_channels");
    int extra = extra_list ? cJSON_GetArraySize(extra_list) : 0;
    int wanted = (strcmp(color, "gray") == 0 ? 1 : 3) + extra;
    if (channels != wanted) {
        char with[48] = "";
        if (extra) snprintf(with, sizeof with, " with %d extra_channels", extra);
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: input.shape[3]: color '%s'%s gives %d channel%s, got %d", where,
                       color, with, wanted, wanted > 1 ? "s" : "", channels);
    }
    static const char *const keys[] = {"mean", "std"};
    for (int k = 0; k < 2; k++) {
        int n = cJSON_GetArraySize(get(input, keys[k]));
        if (n != channels)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                           "%s: input.%s: needs %d values, one per channel of input.shape, got %d", where, keys[k],
                           channels, n);
    }
    const cJSON *variants = get(doc, "variants");
    const cJSON *outputs = get(get(doc, "golden"), "variant_outputs");
    char stray[128] = "";
    size_t used = 0;
    for (const cJSON *v = outputs ? outputs->child : NULL; v; v = v->next)
        if (!get(variants, v->string) && used + 1 < sizeof stray)
            used += (size_t)snprintf(stray + used, sizeof stray - used, "%s'%s'", used ? ", " : "", v->string);
    if (used)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: golden.variant_outputs: names variants the bundle does not hold: [%s]", where, stray);
    return FL_OK;
}

fl_status fl_manifest_check(const uint8_t *data, size_t size, const char *where, cJSON **doc, fl_error *err)
{
    fl_status st = fl_json_parse(data, size, where, doc, err);
    if (st != FL_OK) return st;
    st = validate(*doc, where, err);
    if (st != FL_OK) {
        cJSON_Delete(*doc);
        *doc = NULL;
    }
    return st;
}

static void read_input(const cJSON *input, fl_input_spec *spec)
{
    static const char *const colors[] = {"rgb", "bgr", "gray", "gray_as_rgb", NULL};
    static const char *const resizes[] = {"bilinear", "area", "nearest", NULL};
    static const char *const crops[] = {"none", "face", "letterbox", NULL};
    const cJSON *shape = get(input, "shape");
    spec->height = cJSON_GetArrayItem(shape, 1)->valueint;
    spec->width = cJSON_GetArrayItem(shape, 2)->valueint;
    spec->channels = cJSON_GetArrayItem(shape, 3)->valueint;
    spec->color = (fl_color)enum_index(get_string(input, "color", "rgb"), colors);
    spec->resize = (fl_resize)enum_index(get_string(input, "resize", "bilinear"), resizes);
    spec->crop = (fl_crop)enum_index(get_string(input, "crop", "none"), crops);
    const cJSON *margin = get(input, "margin");
    spec->margin = cJSON_IsNumber(margin) ? margin->valuedouble : 0.0;
    const cJSON *extra = get(input, "extra_channels");
    spec->extra_channels = extra ? cJSON_GetArraySize(extra) : 0;
    for (int c = 0; c < FL_MAX_INPUT_CHANNELS; c++) {
        const cJSON *m = cJSON_GetArrayItem(get(input, "mean"), c), *s = cJSON_GetArrayItem(get(input, "std"), c);
        spec->mean[c] = m ? (float)m->valuedouble : 0.0f;
        spec->std[c] = s ? (float)s->valuedouble : 1.0f;
    }
}

static fl_status need_member(const fl_zip *zip, const char *member, const char *where, const char *what, fl_error *err)
{
    if (fl_zip_find(zip, member) == NULL)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: %s names missing member %s", where, what, member);
    return FL_OK;
}

fl_status fl_manifest_load(const uint8_t *data, size_t size, const fl_zip *zip, const char *where, fl_manifest *out,
                           fl_error *err)
{
    memset(out, 0, sizeof *out);
    char json_where[600];
    snprintf(json_where, sizeof json_where, "%s:manifest.json", where);
    fl_status st = fl_manifest_check(data, size, json_where, &out->doc, err);
    if (st != FL_OK) return st;
    const cJSON *doc = out->doc;
    static const char *const tasks[] = {"classification", "landmarks", "detection", "image_to_image", "skin_metrics",
                                          NULL};
    out->name = get_string(doc, "name", "");
    out->version = get_string(doc, "version", "");
    out->task = (fl_task)enum_index(get_string(doc, "task", ""), tasks);
    const cJSON *labels = get(doc, "labels");
    out->label_count = labels ? (size_t)cJSON_GetArraySize(labels) : 0;
    if (out->label_count) {
        out->labels = calloc(out->label_count, sizeof *out->labels);
        if (out->labels == NULL) {
            st = fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for %zu labels", where, out->label_count);
            goto fail;
        }
        size_t i = 0;
        for (const cJSON *l = labels->child; l; l = l->next) out->labels[i++] = l->valuestring;
    }
    read_input(get(doc, "input"), &out->input);
    const cJSON *golden = get(doc, "golden");
    out->has_golden = golden != NULL;
    if (golden) {
        out->golden_inputs = get_string(golden, "inputs", NULL);
        out->golden_outputs = get_string(golden, "outputs", NULL);
        out->golden_pixels = strcmp(get_string(golden, "input_domain", "normalized"), "pixels") == 0;
    }
    const cJSON *variants = get(doc, "variants");
    const cJSON *tolerances = get(get(doc, "verify"), "tolerance");
    for (size_t k = 0; k < FL_MAX_VARIANTS; k++) {
        const cJSON *v = get(variants, FL_VARIANT_NAMES[k]);
        if (v == NULL) continue;
        fl_variant_entry *e = &out->variants[out->variant_count++];
        e->name = FL_VARIANT_NAMES[k];
        e->file = get_string(v, "file", "");
        e->sha256 = get_string(v, "sha256", "");
        e->target = get_string(v, "target", "cpu");
        e->bytes = (uint64_t)get(v, "bytes")->valuedouble;
        e->input_dtype = dtype_of(get_string(v, "input_dtype", "float32"));
        e->output_dtype = dtype_of(get_string(v, "output_dtype", get_string(v, "input_dtype", "float32")));
        const cJSON *sparsity = get(v, "sparsity");
        e->sparsity = cJSON_IsNumber(sparsity) ? sparsity->valuedouble : 0.0;
        const cJSON *compat = get(v, "compatibility");
        e->gpu_ok = cJSON_IsTrue(get(get(compat, "gpu"), "ok"));
        e->npu_ok = cJSON_IsTrue(get(get(compat, "npu"), "ok"));
        if (golden)
            e->golden_outputs = k == 0 ? out->golden_outputs
                                       : get_string(get(golden, "variant_outputs"), FL_VARIANT_NAMES[k], NULL);
        const cJSON *measured = get(v, "measured");
        if (measured) { /* the schema made every field present and typed */
            static const char *const accelerators[] = {"auto", "cpu", "gpu", "npu", NULL};
            e->measured_accelerator = (fl_accelerator)enum_index(get_string(measured, "accelerator", "auto"),
                                                                 accelerators);
            e->latency_ms = get(measured, "latency_ms")->valuedouble;
            const cJSON *agreement = get(measured, "agreement");
            e->has_agreement = cJSON_IsNumber(agreement);
            e->agreement = e->has_agreement ? agreement->valuedouble : 0.0;
        }
        const cJSON *tol = get(get(tolerances, FL_VARIANT_NAMES[k]), "max_abs_err");
        e->has_tolerance = cJSON_IsNumber(tol);
        e->tolerance = e->has_tolerance ? tol->valuedouble : 0.0;
        char what[64];
        snprintf(what, sizeof what, "variant '%s'", e->name);
        if ((st = need_member(zip, e->file, where, what, err)) != FL_OK) goto fail;
    }
    if (golden) {
        const char *members[2 + FL_MAX_VARIANTS] = {out->golden_inputs, out->golden_outputs};
        size_t n = 2;
        const cJSON *vo = get(golden, "variant_outputs");
        for (const cJSON *v = vo ? vo->child : NULL; v && n < 2 + FL_MAX_VARIANTS; v = v->next)
            members[n++] = v->valuestring;
        for (size_t i = 0; i < n; i++)
            if ((st = need_member(zip, members[i], where, "manifest golden block", err)) != FL_OK) goto fail;
    }
    return FL_OK;
fail:
    fl_manifest_free(out);
    return st;
}

void fl_manifest_free(fl_manifest *m)
{
    cJSON_Delete(m->doc);
    free(m->labels);
    memset(m, 0, sizeof *m);
}

const fl_variant_entry *fl_manifest_variant(const fl_manifest *m, const char *name)
{
    for (size_t i = 0; i < m->variant_count; i++)
        if (strcmp(m->variants[i].name, name) == 0) return &m->variants[i];
    return NULL;
}

const char *fl_manifest_golden_sha256(const fl_manifest *m, const char *member)
{
    return get_string(get(get(m->doc, "golden"), "sha256"), member, NULL);
}
