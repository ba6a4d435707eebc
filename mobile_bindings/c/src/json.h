/* json.h: strict JSON, as facelite.strict_json reads it, parsed into a cJSON tree.
 *
 * Why a pre-check: cJSON accepts what a manifest must not contain (a key given twice,
 * 1e999 read as infinity, leading zeros, raw control characters) and recurses once per
 * nesting level. The text is first checked against RFC 8259's grammar, as UTF-8, at most
 * FL_JSON_MAX_DEPTH deep; cJSON then builds the tree, whose numbers must be finite and
 * whose objects must name each key once. */
#ifndef FACELITE_SRC_JSON_H
#define FACELITE_SRC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "facelite/facelite.h"

#define FL_JSON_MAX_DEPTH 32 /* facelite.strict_json.MAX_DEPTH */

/** Parse `data[0:size]` strictly; FL_ERR_BUNDLE_INVALID "<where>: unreadable JSON (<why>)"
 *  otherwise. Free the result with cJSON_Delete. */
fl_status fl_json_parse(const uint8_t *data, size_t size, const char *where, cJSON **out, fl_error *err);

/** 1 when `data[0:size]` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF). */
int fl_utf8_valid(const uint8_t *data, size_t size);

/** Code points in the NUL-terminated UTF-8 string `s` (what Python's len() counts). */
size_t fl_utf8_length(const char *s);

/** `parent` + `key` as a JSON path (`input.std`, `labels[2]`, `a["odd key"]`) into out[cap]. */
void fl_json_path(char *out, size_t cap, const char *parent, const char *key, long index);

#endif
