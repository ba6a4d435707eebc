/* zip.c: the bundle's stored-zip directory, parsed and checked (see zip.h). */
#include "zip.h"

#include <string.h>

#include "status.h"

#define EOCD_SIZE 22u
#define CENTRAL_SIZE 46u
#define LOCAL_SIZE 30u
#define FLAG_ENCRYPTED 0x0001u
#define FLAG_UTF8 0x0800u

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

uint64_t fl_member_size_cap(const char *name)
{
    if (strcmp(name, "manifest.json") == 0) return FL_MAX_MANIFEST_BYTES;
    if (strcmp(name, "report.json") == 0) return FL_MAX_REPORT_BYTES;
    if (ends_with(name, ".npy")) return FL_MAX_NPY_BYTES;
    if (ends_with(name, ".tflite")) return FL_MAX_BUNDLE_BYTES;
    return FL_MAX_OTHER_MEMBER_BYTES;
}

static int name_char_ok(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

int fl_member_name_ok(const char *name, size_t len)
{
    size_t start = 0;
    if (len == 0 || len > FL_ZIP_MAX_NAME) return 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || name[i] == '/') {
            size_t part = i - start;
            if (part == 0) return 0;
            if (part == 1 && name[start] == '.') return 0;
            if (part == 2 && name[start] == '.' && name[start + 1] == '.') return 0;
            start = i + 1;
        } else if (!name_char_ok((unsigned char)name[i])) {
            return 0;
        }
    }
    return 1;
}

uint32_t fl_crc32(const uint8_t *data, size_t size)
{
    uint32_t table[256]; /* built per call (2 K steps): no shared state, so no race between threads */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size; i++) crc = table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

const fl_zip_member *fl_zip_find(const fl_zip *zip, const char *name)
{
    for (size_t i = 0; i < zip->count; i++)
        if (strcmp(zip->members[i].name, name) == 0) return &zip->members[i];
    return NULL;
}

#define DAMAGED "; the file is damaged or not a bundle facelite wrote"

/* The end-of-central-directory record: the last one whose comment reaches exactly to the end. */
static int find_end_record(const uint8_t *data, size_t size, size_t *end)
{
    if (size < EOCD_SIZE) return 0;
    size_t low = size > EOCD_SIZE + 0xFFFFu ? size - EOCD_SIZE - 0xFFFFu : 0;
    for (size_t pos = size - EOCD_SIZE + 1; pos-- > low;) {
        if (memcmp(data + pos, "PK\x05\x06", 4) == 0 && le16(data + pos + 20) == size - pos - EOCD_SIZE) {
            *end = pos;
            return 1;
        }
    }
    return 0;
}

static fl_status check_local(const uint8_t *data, size_t size, const fl_zip_member *m, const uint8_t *raw_name,
                             size_t name_len, uint16_t flags, uint16_t method, uint64_t limit, const char *where,
                             uint64_t *offset, fl_error *err)
{
    uint64_t h = m->header_offset;
    if (h + LOCAL_SIZE > limit)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: member '%s' has its local header outside the file's data" DAMAGED,
                       where, m->name);
    const uint8_t *p = data + h;
    uint64_t start = h + LOCAL_SIZE;
    if (memcmp(p, "PK\x03\x04", 4) != 0)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: member '%s' has no local header at offset %llu" DAMAGED, where,
                       m->name, (unsigned long long)h);
    uint16_t local_name_len = le16(p + 26), extra_len = le16(p + 28);
    if (local_name_len != name_len || start + name_len > size || memcmp(data + start, raw_name, name_len) != 0)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: member '%s' has another name in its local header" DAMAGED, where,
                       m->name);
    if (le16(p + 6) != flags || le16(p + 8) != method || le32(p + 14) != m->crc32 || le32(p + 18) != m->size ||
        le32(p + 22) != m->size)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: member '%s': the local header and the central directory disagree on its flags, method, "
                       "CRC or sizes" DAMAGED,
                       where, m->name);
    *offset = start + name_len + extra_len;
    if (*offset + m->size > limit)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: member '%s' runs past the start of the central directory" DAMAGED,
                       where, m->name);
    return FL_OK;
}

static const char *method_name(uint16_t method)
{
    switch (method) {
    case 8: return "deflate";
    case 9: return "deflate64";
    case 12: return "bzip2";
    case 14: return "lzma";
    case 93: return "zstandard";
    case 95: return "xz";
    case 99: return "AES encryption";
    }
    return NULL;
}

fl_status fl_zip_read(const uint8_t *data, size_t size, const char *where, fl_zip *out, fl_error *err)
{
    size_t end;
    out->count = 0;
    if (!find_end_record(data, size, &end))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: not a facelite bundle (not a zip: no end-of-central-directory record)", where);
    const uint8_t *e = data + end;
    uint16_t disk = le16(e + 4), cd_disk = le16(e + 6), n_disk = le16(e + 8), n_total = le16(e + 10);
    uint32_t cd_size = le32(e + 12), cd_offset = le32(e + 16);
    if (disk || cd_disk || n_disk != n_total)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: the zip claims to span several disks" DAMAGED, where);
    if (n_total == 0xFFFFu || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu ||
        (end >= 20 && memcmp(data + end - 20, "PK\x06\x07", 4) == 0))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: the zip uses zip64 records, which a bundle (at most 512 MiB) never needs" DAMAGED, where);
    if (n_total > FL_ZIP_MAX_MEMBERS)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: the zip lists %u members, more than the %d a bundle may hold" DAMAGED, where, n_total,
                       FL_ZIP_MAX_MEMBERS);
    if ((uint64_t)cd_offset + cd_size != end)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: the central directory (%u bytes at %u) does not end where the end record starts (%zu)" DAMAGED,
                       where, cd_size, cd_offset, end);
    uint64_t pos = cd_offset;
    for (unsigned i = 0; i < n_total; i++) {
        if (pos + CENTRAL_SIZE > end)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: the central directory ends inside entry %u" DAMAGED, where, i);
        const uint8_t *c = data + pos;
        uint16_t flags = le16(c + 8), method = le16(c + 10);
        uint32_t crc = le32(c + 16), csize = le32(c + 20), usize = le32(c + 24);
        uint16_t name_len = le16(c + 28), extra_len = le16(c + 30), comment_len = le16(c + 32);
        uint16_t disk_start = le16(c + 34);
        uint32_t header_offset = le32(c + 42);
        const uint8_t *raw = c + CENTRAL_SIZE;
        pos += (uint64_t)CENTRAL_SIZE + name_len + extra_len + comment_len;
        if (memcmp(c, "PK\x01\x02", 4) != 0 || pos > end)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: central directory entry %u is damaged" DAMAGED, where, i);
        if (!fl_member_name_ok((const char *)raw, name_len)) {
            char shown[400];
            fl_printable_bytes(raw, name_len < 80 ? name_len : 80, shown, sizeof shown);
            return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                           "%s: member name '%s' is not a plain relative name (parts of ASCII letters, digits, '.', '_' "
                           "and '-', separated by '/', none '.' or '..')",
                           where, shown);
        }
        fl_zip_member *m = &out->members[out->count];
        memcpy(m->name, raw, name_len);
        m->name[name_len] = '\0';
        if (fl_zip_find(out, m->name) != NULL)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                           "%s: holds two members named '%s'; zip readers disagree on which one counts, so a bundle may "
                           "hold each name once",
                           where, m->name);
        if (flags & FLAG_ENCRYPTED)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                           "%s: member '%s' is encrypted; a bundle stores its members in the clear", where, m->name);
        if (method != 0) {
            const char *how = method_name(method);
            if (how != NULL)
                return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                               "%s: member '%s' is compressed (%s); a bundle stores every member uncompressed, and "
                               "facelite never inflates one",
                               where, m->name, how);
            return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                           "%s: member '%s' is in unknown zip method %u; a bundle stores every member uncompressed, and "
                           "facelite never inflates one",
                           where, m->name, method);
        }
        if (flags & ~FLAG_UTF8)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                           "%s: member '%s' has zip flags %#06x; a bundle member may carry only the UTF-8 name flag",
                           where, m->name, flags);
        if (csize != usize)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: member '%s' is stored but its sizes differ (%u and %u)" DAMAGED,
                           where, m->name, csize, usize);
        if (usize > fl_member_size_cap(m->name))
            return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                           "%s: member '%s' is %u bytes, over the %llu a bundle allows it (facelite.bundle.member_size_cap)",
                           where, m->name, usize, (unsigned long long)fl_member_size_cap(m->name));
        if (disk_start)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: member '%s' claims to start on another disk" DAMAGED, where,
                           m->name);
        m->header_offset = header_offset;
        m->size = usize;
        m->crc32 = crc;
        fl_status st = check_local(data, size, m, raw, name_len, flags, method, cd_offset, where, &m->offset, err);
        if (st != FL_OK) return st;
        out->count++;
    }
    if (pos != end)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: the central directory holds bytes after its last entry" DAMAGED,
                       where);
    /* No two members overlap: sorted by local header, each starts at or after the previous one's end. */
    size_t order[FL_ZIP_MAX_MEMBERS];
    for (size_t i = 0; i < out->count; i++) order[i] = i;
    for (size_t i = 1; i < out->count; i++) { /* insertion sort: at most 64 */
        size_t k = order[i], j = i;
        while (j > 0 && out->members[order[j - 1]].header_offset > out->members[k].header_offset) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = k;
    }
    for (size_t i = 1; i < out->count; i++) {
        const fl_zip_member *a = &out->members[order[i - 1]], *b = &out->members[order[i]];
        if (b->header_offset < a->offset + a->size)
            return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: members '%s' and '%s' overlap" DAMAGED, where, a->name,
                           b->name);
    }
    return FL_OK;
}
