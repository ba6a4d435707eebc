/* npy.h: NumPy .npy members (goldens), header checked before anything is allocated. */
#ifndef FACELITE_SRC_NPY_H
#define FACELITE_SRC_NPY_H

#include <stddef.h>

#include "facelite/facelite.h"

#define FL_NPY_MAX_HEADER 4096 /* numpy writes 128 bytes for a golden array */

/** fl_npy_read with `where` (the member, "path:golden/inputs.npy") in messages; a bad
 *  file is FL_ERR_BUNDLE_INVALID. */
fl_status fl_npy_parse(const void *data, size_t size, const char *where, fl_array **out, fl_error *err);

/** `count` elements of `dtype` at `data` as float32 into `out` (half floats widened exactly). */
void fl_convert_to_float32(fl_dtype dtype, const void *data, size_t count, float *out);

/** A new float32 copy of `in` (any float or integer dtype), or NULL when out of memory. */
fl_array *fl_array_to_float32(const fl_array *in);

#endif
