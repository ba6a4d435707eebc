/* status.h: filling an fl_error, shared by every source file of libfacelite (not installed). */
#ifndef FACELITE_SRC_STATUS_H
#define FACELITE_SRC_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "facelite/facelite.h"

#if defined(__GNUC__)
#define FL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define FL_PRINTF(fmt, args)
#endif

/** Fill `err` (when not NULL) with `code` and the formatted message; return `code`. */
fl_status fl_fail(fl_error *err, fl_status code, const char *fmt, ...) FL_PRINTF(3, 4);

/** Mark `err` (when not NULL) as FL_OK with an empty message; return FL_OK. */
fl_status fl_ok(fl_error *err);

/** Prefix `err`'s message with "<prefix>: " (keeps its code); return the code. */
fl_status fl_error_prefix(fl_error *err, fl_status code, const char *prefix);

/** Raw bytes as a message shows them (a member name, a chunk type): printable ASCII as is,
 *  anything else, ' and \ included, as \xNN; as many bytes as fit `cap` (NUL included). */
void fl_printable_bytes(const uint8_t *raw, size_t len, char *out, size_t cap);

#endif
