/* schema.h: the JSON Schema subset facelite's manifest schema uses, validated over cJSON.
 *
 * The same subset as `facelite.schema` (type, const, enum, minimum, maximum,
 * exclusiveMinimum, minLength, maxLength, pattern, prefixItems, items, minItems, maxItems,
 * required, properties, additionalProperties, propertyNames, minProperties, allOf,
 * if/then and local $ref), with the same messages where it matters: the JSON path first.
 * A schema using another keyword is refused rather than half-checked. The schema file
 * itself (sdk_python/facelite/manifest.v1.schema.json) is compiled into the library. */
#ifndef FACELITE_SRC_SCHEMA_H
#define FACELITE_SRC_SCHEMA_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "facelite/facelite.h"

/** Count the ways `instance` breaks `schema` into *problems and describe the first in
 *  first[cap] ("input.std[1]: must be > 0, got 0"). Returns FL_OK (whatever *problems
 *  is) or FL_ERR_UNSUPPORTED when the schema uses what this validator does not implement. */
fl_status fl_schema_check(const cJSON *instance, const cJSON *schema, size_t *problems, char *first, size_t cap,
                          fl_error *err);

/** The manifest schema for `version`, parsed from the copy compiled into the library;
 *  FL_ERR_UNSUPPORTED when this build has none for it. Free with cJSON_Delete. */
fl_status fl_manifest_schema(int version, cJSON **out, fl_error *err);

#endif
