/* manifest.h: a bundle's manifest.json, validated and read into typed fields.
 *
 * Validation is facelite.bundle.validate_manifest's: strict JSON (json.h), a supported
 * schema_version, the schema compiled into the library (schema.h), then the cross-field
 * rules the schema's description lists (channels match the colour, one mean/std per
 * channel, golden.variant_outputs names held variants) and, against the zip, every
 * member the manifest names present. */
#ifndef FACELITE_SRC_MANIFEST_H
#define FACELITE_SRC_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "facelite/facelite.h"
#include "zip.h"

#define FL_MAX_VARIANTS 4 /* the schema's variant_name enum */

/** The variant names, in order of fidelity (the schema's variant_name enum). */
extern const char *const FL_VARIANT_NAMES[FL_MAX_VARIANTS];

typedef struct fl_variant_entry {
    const char *name, *file, *sha256, *target; /* point into the manifest's cJSON tree */
    uint64_t bytes;
    fl_dtype input_dtype, output_dtype;
    double sparsity;
    int gpu_ok, npu_ok;
    const char *golden_outputs; /* golden/<v>_outputs.npy, golden.outputs for fp32, or NULL */
    int has_tolerance;          /* verify.tolerance.<v>.max_abs_err is a number */
    double tolerance;
    /* measured (facelite.bundle.Measured): the build's median invoke latency on
     * measured_accelerator (FL_ACCELERATOR_AUTO: no record) and agreement with fp32. */
    fl_accelerator measured_accelerator;
    double latency_ms;
    int has_agreement; /* measured.agreement is a number, not null */
    double agreement;
} fl_variant_entry;

typedef struct fl_manifest {
    cJSON *doc;
    const char *name, *version;
    fl_task task;
    const char **labels;
    size_t label_count;
    fl_input_spec input;
    fl_variant_entry variants[FL_MAX_VARIANTS]; /* fidelity order */
    size_t variant_count;
    int has_golden;
    const char *golden_inputs; /* member names */
    const char *golden_outputs;
    int golden_pixels; /* input_domain "pixels" (else normalised floats) */
} fl_manifest;

/** Parse `data` strictly and validate it (schema_version, schema, cross-field rules), without
 *  the checks against a zip; `where` names the manifest in messages. Free *doc with cJSON_Delete. */
fl_status fl_manifest_check(const uint8_t *data, size_t size, const char *where, cJSON **doc, fl_error *err);

/** Parse and validate `data` (manifest.json's bytes) against the bundle's `zip`. */
fl_status fl_manifest_load(const uint8_t *data, size_t size, const fl_zip *zip, const char *where, fl_manifest *out,
                           fl_error *err);
void fl_manifest_free(fl_manifest *m);

/** The entry for variant `name`, or NULL. */
const fl_variant_entry *fl_manifest_variant(const fl_manifest *m, const char *name);

/** golden.sha256[member], or NULL when the manifest lists none for it. */
const char *fl_manifest_golden_sha256(const fl_manifest *m, const char *member);

#endif
