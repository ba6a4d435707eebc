/* files.h: opening a file a caller names (a bundle, an image): regular files only, size-capped.
 *
 * Why one place: a path can name a FIFO (open blocks forever), /dev/zero (reading never
 * ends), a directory or a socket, and can be swapped between a check and the open. As
 * facelite.files does: stat before opening, a non-blocking open, fstat of the descriptor
 * actually opened. Every problem is FL_ERR_IO with a message naming the path. */
#ifndef FACELITE_SRC_FILES_H
#define FACELITE_SRC_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "facelite/facelite.h"

/** A read-only mapping of a whole file (`size` bytes; `data` is NULL for an empty file). */
typedef struct fl_mapped_file {
    const uint8_t *data;
    size_t size;
} fl_mapped_file;

/** Map the regular file at `path` of at most `max_bytes` (and at least 1 byte unless
 *  `allow_empty`); `kind` names it in messages ("bundle", "image"). */
fl_status fl_file_map(const char *path, uint64_t max_bytes, const char *kind, int allow_empty, fl_mapped_file *out,
                      fl_error *err);
void fl_file_unmap(fl_mapped_file *file);

/** Read the regular file at `path` of at most `max_bytes` into a new buffer (free() it). */
fl_status fl_file_read(const char *path, uint64_t max_bytes, const char *kind, uint8_t **data, size_t *size,
                       fl_error *err);

#endif
