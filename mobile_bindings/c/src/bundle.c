/* bundle.c: opening a .flb bundle, its manifest accessors, variant bytes and goldens.
 *
 * `fl_bundle_open` is `facelite.bundle.Bundle.open` plus the signature policy of
 * `facelite.signing`: every check that needs no model runs at open, so a bundle that
 * opens is one whose zip, manifest and signature are sound. Variant bytes are checked
 * (size, sha256, alignment) when a model asks for them, goldens when they are read. */
#include "bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"
#include "facelite/preprocess.h"
#include "status.h"

void fl_bundle_options_init(fl_bundle_options *options)
{
    if (options == NULL) return;
    memset(options, 0, sizeof *options);
    options->signature = FL_SIGNATURE_REQUIRED;
    options->trust_development_key = 1;
}

static fl_status open_data(fl_bundle *b, const fl_bundle_options *options, fl_error *err)
{
    fl_status st = fl_zip_read(b->data, b->size, b->path, &b->zip, err);
    if (st != FL_OK) return st;
    const fl_zip_member *m = fl_zip_find(&b->zip, "manifest.json");
    if (m == NULL) return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: not a facelite bundle (no manifest.json)", b->path);
    if (fl_crc32(b->data + m->offset, m->size) != m->crc32)
        return fl_fail(err, FL_ERR_CHECKSUM, "%s: member 'manifest.json' fails its CRC-32 check; the bundle is damaged",
                       b->path);
    st = fl_manifest_load(b->data + m->offset, m->size, &b->zip, b->path, &b->manifest, err);
    if (st != FL_OK) return st;
    fl_bundle_options defaults;
    if (options == NULL) {
        fl_bundle_options_init(&defaults);
        options = &defaults;
    }
    return fl_signature_check(b, options, err);
}

static fl_bundle *new_bundle(const char *path)
{
    fl_bundle *b = calloc(1, sizeof *b);
    if (b == NULL) return NULL;
    b->path = malloc(strlen(path) + 1);
    if (b->path == NULL) {
        free(b);
        return NULL;
    }
    strcpy(b->path, path);
    atomic_init(&b->refs, 1);
    return b;
}

static void free_bundle(fl_bundle *b)
{
    fl_manifest_free(&b->manifest);
    fl_file_unmap(&b->file);
    free(b->path);
    free(b);
}

fl_status fl_bundle_open(const char *path, const fl_bundle_options *options, fl_bundle **out, fl_error *err)
{
    if (out == NULL) return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_bundle_open: out must not be NULL");
    *out = NULL;
    if (path == NULL) return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_bundle_open: no bundle path given (NULL)");
    fl_bundle *b = new_bundle(path);
    if (b == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory opening the bundle", path);
    fl_status st = fl_file_map(path, FL_MAX_BUNDLE_BYTES, "bundle", 0, &b->file, err);
    if (st == FL_OK) {
        b->data = b->file.data;
        b->size = b->file.size;
        st = open_data(b, options, err);
    }
    if (st != FL_OK) {
        free_bundle(b);
        return st;
    }
    *out = b;
    return fl_ok(err);
}

fl_status fl_bundle_open_buffer(const void *data, size_t size, const fl_bundle_options *options, fl_bundle **out,
                                fl_error *err)
{
    if (out == NULL) return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_bundle_open_buffer: out must not be NULL");
    *out = NULL;
    if (data == NULL || size == 0)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_bundle_open_buffer: no bundle bytes given (%s)",
                       data == NULL ? "NULL" : "0 bytes");
    if (size > FL_MAX_BUNDLE_BYTES)
        return fl_fail(err, FL_ERR_IO, "<buffer>: is %zu bytes, over the 512 MiB limit for a bundle", size);
    fl_bundle *b = new_bundle("<buffer>");
    if (b == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "<buffer>: out of memory opening the bundle");
    b->data = data;
    b->size = size;
    fl_status st = open_data(b, options, err);
    if (st != FL_OK) {
        free_bundle(b);
        return st;
    }
    *out = b;
    return fl_ok(err);
}

void fl_bundle_retain(fl_bundle *bundle)
{
    atomic_fetch_add(&bundle->refs, 1);
}

void fl_bundle_destroy(fl_bundle *bundle)
{
    if (bundle != NULL && atomic_fetch_sub(&bundle->refs, 1) == 1) free_bundle(bundle);
}

/* -- manifest accessors ------------------------------------------------------------------------ */

const char *fl_bundle_path(const fl_bundle *b) { return b ? b->path : NULL; }
const char *fl_bundle_name(const fl_bundle *b) { return b ? b->manifest.name : NULL; }
const char *fl_bundle_version(const fl_bundle *b) { return b ? b->manifest.version : NULL; }
fl_task fl_bundle_task(const fl_bundle *b) { return b ? b->manifest.task : FL_TASK_CLASSIFICATION; }
size_t fl_bundle_label_count(const fl_bundle *b) { return b ? b->manifest.label_count : 0; }
const fl_input_spec *fl_bundle_input_spec(const fl_bundle *b) { return b ? &b->manifest.input : NULL; }
const fl_signature_info *fl_bundle_signature(const fl_bundle *b) { return b ? &b->signature : NULL; }
size_t fl_bundle_variant_count(const fl_bundle *b) { return b ? b->manifest.variant_count : 0; }
int fl_bundle_has_golden(const fl_bundle *b) { return b ? b->manifest.has_golden : 0; }

const char *fl_bundle_label(const fl_bundle *b, size_t index)
{
    return b && index < b->manifest.label_count ? b->manifest.labels[index] : NULL;
}

const char *fl_bundle_manifest_json(const fl_bundle *b, size_t *size)
{
    const fl_zip_member *m = b ? fl_zip_find(&b->zip, "manifest.json") : NULL;
    if (m == NULL) return NULL;
    if (size) *size = m->size;
    return (const char *)b->data + m->offset;
}

const char *fl_task_name(fl_task task)
{
    switch (task) {
    case FL_TASK_CLASSIFICATION: return "classification";
    case FL_TASK_LANDMARKS: return "landmarks";
    case FL_TASK_DETECTION: return "detection";
    case FL_TASK_IMAGE_TO_IMAGE: return "image_to_image";
    case FL_TASK_SKIN_METRICS: return "skin_metrics";
    }
    return "unknown";
}

static void fill_variant(const fl_bundle *b, const fl_variant_entry *e, fl_variant_info *out)
{
    const fl_zip_member *m = fl_zip_find(&b->zip, e->file);
    out->name = e->name;
    out->file = e->file;
    out->sha256 = e->sha256;
    out->target = e->target;
    out->bytes = e->bytes;
    out->input_dtype = e->input_dtype;
    out->output_dtype = e->output_dtype;
    out->sparsity = e->sparsity;
    out->gpu_compatible = e->gpu_ok;
    out->npu_compatible = e->npu_ok;
    out->offset = m ? m->offset : 0;
}

fl_status fl_bundle_variant_at(const fl_bundle *b, size_t index, fl_variant_info *out, fl_error *err)
{
    if (b == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_bundle_variant_at: bundle and out must not be NULL");
    if (index >= b->manifest.variant_count)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "%s: no variant number %zu; the bundle holds %zu", b->path, index,
                       b->manifest.variant_count);
    fill_variant(b, &b->manifest.variants[index], out);
    return fl_ok(err);
}

static void variant_list(const fl_bundle *b, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < b->manifest.variant_count && used + 1 < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", b->manifest.variants[i].name);
}

fl_status fl_bundle_variant(const fl_bundle *b, const char *name, fl_variant_info *out, fl_error *err)
{
    if (b == NULL || name == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_bundle_variant: bundle, name and out must not be NULL");
    const fl_variant_entry *e = fl_manifest_variant(&b->manifest, name);
    if (e == NULL) {
        char list[64];
        variant_list(b, list, sizeof list);
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "%s: no variant '%.40s'; this bundle has %s", b->path, name, list);
    }
    fill_variant(b, e, out);
    return fl_ok(err);
}

/* facelite.engine.AGREEMENT_FLOOR and SPEEDUP_MARGIN (their docstrings say why). */
#define FL_AGREEMENT_FLOOR 0.98
#define FL_SPEEDUP_MARGIN 0.10

/* The variant preference per accelerator without measurements (facelite.engine.PREFERENCE). */
static const char *const PREFER_NPU[] = {"int8", NULL};
static const char *const PREFER_GPU[] = {"fp16", "fp32", NULL};
static const char *const PREFER_CPU[] = {"fp32", "fp16", "int8", "dynamic", NULL};

static int compatible(const fl_variant_entry *e, fl_accelerator a)
{
    return a == FL_ACCELERATOR_CPU || (a == FL_ACCELERATOR_GPU && e->gpu_ok) || (a == FL_ACCELERATOR_NPU && e->npu_ok);
}

/* facelite.engine.measured_choice: the fastest variant measured on `accelerator` whose
 * agreement clears the floor, walking fidelity order and replacing the pick only when at
 * least FL_SPEEDUP_MARGIN faster; NULL unless every variant has a record for `accelerator`. */
static const char *measured_choice(const fl_manifest *m, fl_accelerator accelerator)
{
    if (m->variant_count == 0) return NULL;
    for (size_t i = 0; i < m->variant_count; i++)
        if (m->variants[i].measured_accelerator != accelerator) return NULL;
    const char *best = NULL;
    double best_ms = 0.0;
    for (size_t i = 0; i < m->variant_count; i++) { /* variants[] is in fidelity order */
        const fl_variant_entry *e = &m->variants[i];
        if (!compatible(e, accelerator) || !e->has_agreement || e->agreement < FL_AGREEMENT_FLOOR) continue;
        if (best == NULL || e->latency_ms <= best_ms * (1.0 - FL_SPEEDUP_MARGIN)) {
            best = e->name;
            best_ms = e->latency_ms;
        }
    }
    return best;
}

const char *fl_bundle_choose_variant(const fl_bundle *b, fl_accelerator accelerator)
{
    if (b == NULL) return NULL;
    if (accelerator == FL_ACCELERATOR_AUTO) {
        static const fl_accelerator order[] = {FL_ACCELERATOR_NPU, FL_ACCELERATOR_GPU, FL_ACCELERATOR_CPU};
        for (size_t i = 0; i < 3; i++) {
            const char *name = fl_bundle_choose_variant(b, order[i]);
            if (name) return name;
        }
        return NULL;
    }
    const char *measured = measured_choice(&b->manifest, accelerator);
    if (measured) return measured;
    const char *const *prefer = accelerator == FL_ACCELERATOR_NPU   ? PREFER_NPU
                                : accelerator == FL_ACCELERATOR_GPU ? PREFER_GPU
                                                                    : PREFER_CPU;
    for (size_t i = 0; prefer[i]; i++) {
        const fl_variant_entry *e = fl_manifest_variant(&b->manifest, prefer[i]);
        if (e && compatible(e, accelerator)) return e->name;
    }
    if (accelerator == FL_ACCELERATOR_CPU && b->manifest.variant_count) { /* any variant runs on the CPU */
        const char *first = NULL;
        for (size_t i = 0; i < b->manifest.variant_count; i++)
            if (first == NULL || strcmp(b->manifest.variants[i].name, first) < 0) first = b->manifest.variants[i].name;
        return first;
    }
    return NULL;
}

/* -- member bytes -------------------------------------------------------------------------------- */

fl_status fl_bundle_variant_bytes(const fl_bundle *b, const fl_variant_entry *v, const uint8_t **data, size_t *size,
                                  fl_error *err)
{
    const fl_zip_member *m = fl_zip_find(&b->zip, v->file);
    if (m == NULL) /* fl_manifest_load checked it */
        return fl_fail(err, FL_ERR_INTERNAL, "%s: variant '%s' has no member %s", b->path, v->name, v->file);
    if (m->size != v->bytes)
        return fl_fail(err, FL_ERR_CHECKSUM,
                       "%s: variant '%s' (member %s) is %llu bytes, manifest says %llu; the bundle is damaged or "
                       "tampered with",
                       b->path, v->name, v->file, (unsigned long long)m->size, (unsigned long long)v->bytes);
    const char *cached = b->sha256[m - b->zip.members];
    char computed[65];
    if (!cached[0]) {
        fl_sha256_hex(b->data + m->offset, m->size, computed);
        cached = computed;
    }
    if (strcmp(cached, v->sha256) != 0)
        return fl_fail(err, FL_ERR_CHECKSUM,
                       "%s: variant '%s' (member %s) fails its sha256 check; the bundle is damaged or tampered with, "
                       "rebuild or re-download it",
                       b->path, v->name, v->file);
    if ((((uintptr_t)(b->data + m->offset)) % FL_ZIP_ALIGNMENT) != 0)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: variant '%s' (member %s) does not start at a multiple of %d bytes, so it cannot be handed "
                       "to LiteRT in place; rebuild the bundle with facelite-build (it aligns every member)",
                       b->path, v->name, v->file, FL_ZIP_ALIGNMENT);
    *data = b->data + m->offset;
    *size = m->size;
    return FL_OK;
}

/* A golden member's array: sha256 against golden.sha256 when the manifest lists it, else CRC-32. */
static fl_status golden_member(const fl_bundle *b, const char *member, fl_array **out, fl_error *err)
{
    const fl_zip_member *m = fl_zip_find(&b->zip, member);
    char where[600];
    snprintf(where, sizeof where, "%s:%s", b->path, member);
    if (m == NULL) return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: no member '%s' in bundle", b->path, member);
    const char *expected = fl_manifest_golden_sha256(&b->manifest, member);
    if (expected) {
        char hex[65];
        fl_sha256_hex(b->data + m->offset, m->size, hex);
        if (strcmp(hex, expected) != 0)
            return fl_fail(err, FL_ERR_CHECKSUM, "%s: member %s fails its sha256 check", b->path, member);
    } else if (fl_crc32(b->data + m->offset, m->size) != m->crc32) {
        return fl_fail(err, FL_ERR_CHECKSUM, "%s: member '%s' fails its CRC-32 check; the bundle is damaged", b->path,
                       member);
    }
    return fl_npy_parse(b->data + m->offset, m->size, where, out, err);
}

fl_status fl_bundle_read_npy(const fl_bundle *b, const char *member, fl_array **out, fl_error *err)
{
    if (b == NULL || member == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_bundle_read_npy: bundle, member and out must not be NULL");
    *out = NULL;
    fl_status st = golden_member(b, member, out, err);
    return st == FL_OK ? fl_ok(err) : st;
}

fl_status fl_bundle_golden_inputs(const fl_bundle *b, fl_array **out, fl_error *err)
{
    if (b == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_bundle_golden_inputs: bundle and out must not be NULL");
    *out = NULL;
    const fl_manifest *m = &b->manifest;
    if (!m->has_golden) return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: bundle has no golden vectors", b->path);
    fl_array *a;
    fl_status st = golden_member(b, m->golden_inputs, &a, err);
    if (st != FL_OK) return st;
    const fl_input_spec *in = &m->input;
    if (a->rank != 4 || a->shape[0] < 1 || a->shape[1] != in->height || a->shape[2] != in->width ||
        a->shape[3] != in->channels) {
        fl_array_destroy(a);
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s:%s: holds an array of another shape; goldens are (N, %d, %d, %d) "
                       "as input.shape says, N >= 1", b->path, m->golden_inputs, in->height, in->width, in->channels);
    }
    int is_float = a->dtype == FL_DTYPE_FLOAT16 || a->dtype == FL_DTYPE_FLOAT32 || a->dtype == FL_DTYPE_FLOAT64;
    if (m->golden_pixels ? a->dtype != FL_DTYPE_UINT8 : !is_float) {
        st = fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s:%s: holds %s; golden %s", b->path, m->golden_inputs,
                     fl_dtype_name(a->dtype), m->golden_pixels ? "pixels are uint8" : "normalized inputs are floats");
        fl_array_destroy(a);
        return st;
    }
    *out = a;
    return fl_ok(err);
}

fl_status fl_bundle_golden_tensors(const fl_bundle *b, fl_array **out, fl_error *err)
{
    if (out == NULL) return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_bundle_golden_tensors: out must not be NULL");
    *out = NULL;
    fl_array *raw;
    fl_status st = fl_bundle_golden_inputs(b, &raw, err);
    if (st != FL_OK) return st;
    fl_array *t;
    if (b->manifest.golden_pixels) {
        t = calloc(1, sizeof *t);
        float *data = t ? malloc(raw->count * sizeof *data) : NULL;
        if (data == NULL) {
            free(t);
            fl_array_destroy(raw);
            return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for the golden tensors", b->path);
        }
        *t = *raw;
        t->dtype = FL_DTYPE_FLOAT32;
        t->data = data;
        st = fl_normalize(raw->data, raw->count / (size_t)b->manifest.input.channels, &b->manifest.input, data, err);
        if (st != FL_OK) {
            fl_array_destroy(t);
            fl_array_destroy(raw);
            return st;
        }
    } else {
        t = fl_array_to_float32(raw);
        if (t == NULL) {
            fl_array_destroy(raw);
            return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for the golden tensors", b->path);
        }
    }
    fl_array_destroy(raw);
    *out = t;
    return fl_ok(err);
}

fl_status fl_bundle_golden_outputs(const fl_bundle *b, const char *variant, fl_array **out, fl_error *err)
{
    if (b == NULL || variant == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_bundle_golden_outputs: bundle, variant and out must not be NULL");
    *out = NULL;
    const fl_manifest *m = &b->manifest;
    if (!m->has_golden) return fl_ok(err);
    const fl_variant_entry *e = fl_manifest_variant(m, variant);
    const char *member = strcmp(variant, "fp32") == 0 ? m->golden_outputs : e ? e->golden_outputs : NULL;
    if (member == NULL) return fl_ok(err);
    fl_array *inputs, *a;
    fl_status st = fl_bundle_golden_inputs(b, &inputs, err);
    if (st != FL_OK) return st;
    int64_t rows = inputs->shape[0];
    fl_array_destroy(inputs);
    if ((st = golden_member(b, member, &a, err)) != FL_OK) return st;
    int is_float = a->dtype == FL_DTYPE_FLOAT16 || a->dtype == FL_DTYPE_FLOAT32 || a->dtype == FL_DTYPE_FLOAT64;
    if (a->rank < 1 || a->shape[0] != rows || !is_float) {
        st = fl_fail(err, FL_ERR_BUNDLE_INVALID,
                     "%s:%s: holds %s of another shape; golden outputs are floats, one row per golden input (%lld)",
                     b->path, member, fl_dtype_name(a->dtype), (long long)rows);
        fl_array_destroy(a);
        return st;
    }
    if (strcmp(variant, "fp32") != 0) {
        fl_array *fp32;
        if ((st = golden_member(b, m->golden_outputs, &fp32, err)) != FL_OK) {
            fl_array_destroy(a);
            return st;
        }
        size_t want = fp32->count;
        fl_array_destroy(fp32);
        if (a->count != want) {
            st = fl_fail(err, FL_ERR_BUNDLE_INVALID,
                         "%s:%s: holds %zu values, the fp32 goldens %zu; a variant's goldens match the fp32 ones in "
                         "size",
                         b->path, member, a->count, want);
            fl_array_destroy(a);
            return st;
        }
    }
    fl_array *f = fl_array_to_float32(a);
    fl_array_destroy(a);
    if (f == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for %s", b->path, member);
    *out = f;
    return fl_ok(err);
}
