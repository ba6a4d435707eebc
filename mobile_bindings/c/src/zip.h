/* zip.h: the bundle's container, a stored zip read by our own central-directory parser.
 *
 * Why our own: a phone maps the bundle and hands a variant's bytes to LiteRT in place,
 * which needs each member's data offset; zip libraries do not expose it, and they
 * inflate, which a bundle never needs. The rules are docs/bundle.md's and
 * `facelite.bundle.read_directory`'s, checked in the same order so that both readers
 * refuse the same files. */
#ifndef FACELITE_SRC_ZIP_H
#define FACELITE_SRC_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "facelite/facelite.h"

#define FL_ZIP_MAX_MEMBERS 64               /* facelite.bundle.MAX_MEMBERS */
#define FL_ZIP_MAX_NAME 255
#define FL_MAX_BUNDLE_BYTES (512u << 20)    /* MAX_BUNDLE_BYTES: the file, and any variant */
#define FL_MAX_MANIFEST_BYTES (1u << 20)
#define FL_MAX_REPORT_BYTES (4u << 20)
#define FL_MAX_NPY_BYTES (64u << 20)
#define FL_MAX_OTHER_MEMBER_BYTES (1u << 20)
#define FL_ZIP_ALIGNMENT 4

typedef struct fl_zip_member {
    char name[FL_ZIP_MAX_NAME + 1];
    uint64_t header_offset; /* its local header */
    uint64_t offset;        /* its bytes: what LiteRT is handed */
    uint64_t size;
    uint32_t crc32;
} fl_zip_member;

typedef struct fl_zip {
    fl_zip_member members[FL_ZIP_MAX_MEMBERS]; /* central-directory order */
    size_t count;
} fl_zip;

/** Parse the stored zip `data[0:size]` into `out`; FL_ERR_BUNDLE_INVALID naming `where` and
 *  the first rule broken otherwise. */
fl_status fl_zip_read(const uint8_t *data, size_t size, const char *where, fl_zip *out, fl_error *err);

/** The member called `name`, or NULL. */
const fl_zip_member *fl_zip_find(const fl_zip *zip, const char *name);

/** The most bytes member `name` may hold (facelite.bundle.member_size_cap). */
uint64_t fl_member_size_cap(const char *name);

/** 1 when `name` is a plain relative member name: '/'-separated parts of [A-Za-z0-9._-],
 *  none "." or "..", at most 255 characters. */
int fl_member_name_ok(const char *name, size_t len);

/** CRC-32 (ISO-HDLC, zip's) of `data`. */
uint32_t fl_crc32(const uint8_t *data, size_t size);

#endif
