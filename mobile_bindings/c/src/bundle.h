/* bundle.h: the fl_bundle handle, shared by bundle.c, signature.c and engine.c (not installed). */
#ifndef FACELITE_SRC_BUNDLE_H
#define FACELITE_SRC_BUNDLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "facelite/facelite.h"
#include "files.h"
#include "manifest.h"
#include "zip.h"

struct fl_bundle {
    atomic_int refs; /* the caller's reference and one per model */
    char *path;
    fl_mapped_file file; /* the mapping (empty for fl_bundle_open_buffer) */
    const uint8_t *data;
    size_t size;
    fl_zip zip;
    fl_manifest manifest;
    fl_signature_info signature;
    char warning[768];
    /* sha256 (hex) of each zip member, by index, computed by the signature check ("" if not). */
    char sha256[FL_ZIP_MAX_MEMBERS][65];
};

void fl_bundle_retain(fl_bundle *bundle);

/** The variant's bytes inside the bundle (never copied), refused with FL_ERR_CHECKSUM unless
 *  their size and sha256 match the manifest, FL_ERR_BUNDLE_INVALID unless 4-byte aligned. */
fl_status fl_bundle_variant_bytes(const fl_bundle *bundle, const fl_variant_entry *variant, const uint8_t **data,
                                  size_t *size, fl_error *err);

/** sha256 of `data` as 64 lowercase hex digits. */
void fl_sha256_hex(const uint8_t *data, size_t size, char out[65]);

/** Check the bundle's signature.json against `options` (docs/bundle.md, "Verifying" and
 *  "Policy"), filling bundle->signature, ->warning and ->sha256; FL_ERR_SIGNATURE when the
 *  policy refuses the bundle. */
fl_status fl_signature_check(fl_bundle *bundle, const fl_bundle_options *options, fl_error *err);

#endif
