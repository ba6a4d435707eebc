/*
 * image.c: caller pixel buffers and the image decoder (docs/preprocessing.md step 1).
 *
 * The decoder gives the pixels of `facelite.image.load_image` (OpenCV's imdecode with
 * IMREAD_COLOR) from the same bytes, with the same refusals before anything is decoded:
 * - the header is read here (format by signature, size from the JPEG frame header or the
 *   PNG IHDR) and the 50 megapixel limit applied to it; a JPEG must reach its
 *   end-of-image marker within FL_JPEG_MAX_SCANS scans (the same segment walk as Python);
 * - JPEG: libjpeg-turbo's TurboJPEG API to BGR with its defaults (integer IDCT, fancy
 *   upsampling), as OpenCV's bundled libjpeg-turbo; CMYK/YCCK converted as OpenCV does;
 * - PNG: its chunks walked first (IHDR first, every declared length within the file, at
 *   most FL_PNG_MAX_CHUNKS, IDAT present, IEND reached), then libpng with OpenCV's
 *   transforms (16-bit keeps the high byte, alpha stripped, palette and grey expanded,
 *   BGR order);
 * - the EXIF orientation (a JPEG's first APP1 "Exif" segment, a PNG's eXIf chunk) is applied.
 *   The TIFF directory is walked as OpenCV's reader walks it: entries in order, a value
 *   that lies outside the data ends the walk, and an Orientation found before that counts.
 */
#include "facelite/image.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "buffer.h"
#include "files.h"
#include "status.h"

/* ---------------------------------------------------------------------------------
 * Pixels in memory
 * ------------------------------------------------------------------------------- */

int fl_pixel_format_channels(fl_pixel_format format)
{
    switch (format) {
    case FL_PIXELS_GRAY: return 1;
    case FL_PIXELS_RGB:
    case FL_PIXELS_BGR: return 3;
    case FL_PIXELS_RGBA:
    case FL_PIXELS_BGRA: return 4;
    }
    return 0;
}

const char *fl_pixel_format_name(fl_pixel_format format)
{
    switch (format) {
    case FL_PIXELS_GRAY: return "gray";
    case FL_PIXELS_RGB: return "rgb";
    case FL_PIXELS_BGR: return "bgr";
    case FL_PIXELS_RGBA: return "rgba";
    case FL_PIXELS_BGRA: return "bgra";
    }
    return "unknown";
}

fl_status fl_image_check(const fl_image *image, fl_error *err)
{
    int ch;
    size_t row;
    if (image == NULL || image->pixels == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "image: the fl_image or its pixels pointer is NULL");
    ch = fl_pixel_format_channels(image->format);
    if (ch == 0)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "image: pixel format %d is not one of FL_PIXELS_GRAY, RGB, BGR, RGBA, BGRA", (int)image->format);
    if (image->width < 1 || image->height < 1)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "image: size %dx%d; an image has at least 1x1 pixels",
                       image->width, image->height);
    row = (size_t)image->width * (size_t)ch;
    if (image->stride < row)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "image: stride %zu is under a row of %d %s pixels (%zu bytes)",
                       image->stride, image->width, fl_pixel_format_name(image->format), row);
    if ((size_t)(image->height - 1) > (SIZE_MAX - row) / image->stride)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "image: %d rows of stride %zu overflow the address space",
                       image->height, image->stride);
    return FL_OK;
}

/* ---------------------------------------------------------------------------------
 * Headers
 * ------------------------------------------------------------------------------- */

const char *fl_image_format_name(fl_image_format format)
{
    switch (format) {
    case FL_IMAGE_JPEG: return "JPEG";
    case FL_IMAGE_PNG: return "PNG";
    case FL_IMAGE_BMP: return "BMP";
    case FL_IMAGE_WEBP: return "WebP";
    case FL_IMAGE_TIFF: return "TIFF";
    case FL_IMAGE_GIF: return "GIF";
    }
    return "unknown";
}

#define ACCEPTED "JPEG, PNG, BMP, WebP, TIFF or GIF"

static int starts(const uint8_t *d, size_t n, const char *sig, size_t len)
{
    return n >= len && memcmp(d, sig, len) == 0;
}

static unsigned be16(const uint8_t *p)
{
    return ((unsigned)p[0] << 8) | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* The accepted format `d` starts with, or 0. */
static int sniff(const uint8_t *d, size_t n)
{
    if (starts(d, n, "\x89PNG\r\n\x1a\n", 8))
        return FL_IMAGE_PNG;
    if (starts(d, n, "\xff\xd8\xff", 3))
        return FL_IMAGE_JPEG;
    if (starts(d, n, "BM", 2))
        return FL_IMAGE_BMP;
    if (starts(d, n, "RIFF", 4) && n >= 12 && memcmp(d + 8, "WEBP", 4) == 0)
        return FL_IMAGE_WEBP;
    if (starts(d, n, "II*\0", 4) || starts(d, n, "MM\0*", 4))
        return FL_IMAGE_TIFF;
    if (starts(d, n, "GIF87a", 6) || starts(d, n, "GIF89a", 6))
        return FL_IMAGE_GIF;
    return 0;
}

/* The name of a format facelite refuses (`facelite.image._OTHER_FORMATS`), or NULL. */
static const char *other_format(const uint8_t *d, size_t n)
{
    static const struct {
        const char *sig;
        size_t len;
        const char *name;
    } others[] = {
        {"#?RADIANCE", 10, "Radiance HDR"}, {"#?RGBE", 6, "Radiance HDR"}, {"PF", 2, "PFM"}, {"Pf", 2, "PFM"},
        {"P1", 2, "PNM (PBM/PGM/PPM/PAM)"}, {"P2", 2, "PNM (PBM/PGM/PPM/PAM)"}, {"P3", 2, "PNM (PBM/PGM/PPM/PAM)"},
        {"P4", 2, "PNM (PBM/PGM/PPM/PAM)"}, {"P5", 2, "PNM (PBM/PGM/PPM/PAM)"}, {"P6", 2, "PNM (PBM/PGM/PPM/PAM)"},
        {"P7", 2, "PNM (PBM/PGM/PPM/PAM)"}, {"\x59\xa6\x6a\x95", 4, "Sun raster"}, {"\x76\x2f\x31\x01", 4, "OpenEXR"},
        {"\0\0\0\x0cjP  \r\n\x87\n", 12, "JPEG 2000"}, {"\xff\x4f\xff\x51", 4, "JPEG 2000"},
        {"\0\0\0\x0cJXL \r\n\x87\n", 12, "JPEG XL"}, {"\xff\x0a", 2, "JPEG XL"}, {"II+\0", 4, "BigTIFF"},
        {"MM\0+", 4, "BigTIFF"},
    };
    static const char *const brands[] = {"avif", "avis", "heic", "heix", "mif1"};
    size_t i;
    for (i = 0; i < sizeof others / sizeof others[0]; i++)
        if (starts(d, n, others[i].sig, others[i].len))
            return others[i].name;
    if (n >= 12 && memcmp(d + 4, "ftyp", 4) == 0)
        for (i = 0; i < sizeof brands / sizeof brands[0]; i++)
            if (memcmp(d + 8, brands[i], 4) == 0)
                return "AVIF/HEIF";
    return NULL;
}

static int is_sof(unsigned m)
{
    return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
}

static int no_length(unsigned m)
{
    return (m >= 0xD0 && m <= 0xD7) || m == 0x01;
}

/* The header segment at or after *pos (which it moves to the segment's marker, past fill
 * bytes and markers without a length): 1 with its marker and length, 0 at the first scan,
 * the end of the image, a byte that is not a marker or the end of the data. The caller
 * steps past the segment with *pos += 2 + *length. */
static int jpeg_header_segment(const uint8_t *d, size_t n, size_t *pos, unsigned *marker, size_t *length)
{
    while (*pos + 4 <= n) {
        unsigned m;
        if (d[*pos] != 0xFF)
            return 0;
        m = d[*pos + 1];
        if (m == 0xFF) {
            *pos += 1;
            continue;
        }
        if (no_length(m)) {
            *pos += 2;
            continue;
        }
        if (m == 0xD9 || m == 0xDA)
            return 0;
        *marker = m;
        *length = be16(d + *pos + 2);
        return 1;
    }
    return 0;
}

/* Width and height from the first frame header before any scan (`_jpeg_size`); 0 if none. */
static int jpeg_size(const uint8_t *d, size_t n, int64_t *w, int64_t *h)
{
    size_t pos = 2, length;
    unsigned marker;
    while (jpeg_header_segment(d, n, &pos, &marker, &length)) {
        if (is_sof(marker)) {
            if (pos + 9 > n)
                return 0;
            *h = be16(d + pos + 5);
            *w = be16(d + pos + 7);
            return 1;
        }
        pos += 2 + length;
    }
    return 0;
}

/* Scans before the main image's end-of-image marker (`_jpeg_scans`); -1 without one. */
static long jpeg_scans(const uint8_t *d, size_t n)
{
    size_t pos = 2;
    long scans = 0;
    while (pos + 2 <= n) {
        unsigned marker;
        if (d[pos] != 0xFF)
            return -1;
        marker = d[pos + 1];
        if (marker == 0xFF) {
            pos += 1;
            continue;
        }
        if (marker == 0xD9)
            return scans;
        if (no_length(marker)) {
            pos += 2;
            continue;
        }
        if (pos + 4 > n)
            return -1;
        pos += 2 + (size_t)be16(d + pos + 2);
        if (marker == 0xDA) { /* entropy-coded data: skip to the next real marker */
            scans++;
            for (;;) {
                const uint8_t *ff;
                unsigned next;
                if (pos >= n)
                    return -1;
                ff = memchr(d + pos, 0xFF, n - pos);
                if (ff == NULL)
                    return -1;
                pos = (size_t)(ff - d);
                if (pos + 1 >= n)
                    return -1;
                next = d[pos + 1];
                if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {
                    pos += next == 0xFF ? 1 : 2;
                    continue;
                }
                break;
            }
        }
    }
    return -1;
}

/* The payload of the first APP1 segment before the first scan that starts "Exif\0\0"
 * (an XMP APP1 is skipped, as OpenCV does). */
static int jpeg_app1(const uint8_t *d, size_t n, const uint8_t **payload, size_t *size)
{
    size_t pos = 2, length;
    unsigned marker;
    while (jpeg_header_segment(d, n, &pos, &marker, &length)) {
        if (marker == 0xE1 && length >= 8 && pos + 2 + length <= n && memcmp(d + pos + 4, "Exif\0\0", 6) == 0) {
            *payload = d + pos + 4;
            *size = length - 2;
            return 1;
        }
        pos += 2 + length;
    }
    return 0;
}

/* The PNG's chunks walked before decoding, as `facelite.image._check_png` does: IHDR of
 * 13 bytes first, every declared length within the file (libpng would otherwise allocate
 * what a lying length says), at most MAX_PNG_CHUNKS, IDAT bytes present, IEND reached.
 * 1 when sound, else 0 with the problem in `why`. */
static int png_structure(const uint8_t *d, size_t n, char *why, size_t why_size)
{
    size_t pos = 8, chunks = 0, idat = 0;
    char name[17];
    for (;;) {
        uint32_t length;
        if (pos + 12 > n) {
            snprintf(why, why_size, "a truncated PNG (no IEND chunk; the file ends after %zu bytes)", n);
            return 0;
        }
        length = be32(d + pos);
        fl_printable_bytes(d + pos + 4, 4, name, sizeof name);
        if (chunks == 0 && (memcmp(d + pos + 4, "IHDR", 4) != 0 || length != 13)) {
            snprintf(why, why_size, "a PNG whose first chunk is '%s' of %u bytes, not IHDR of 13", name,
                     (unsigned)length);
            return 0;
        }
        if (length > n - pos - 12) {
            snprintf(why, why_size, "a PNG whose '%s' chunk at byte %zu declares %u bytes, past the end of the "
                     "%zu-byte file", name, pos, (unsigned)length, n);
            return 0;
        }
        if (++chunks > FL_PNG_MAX_CHUNKS) {
            snprintf(why, why_size, "a PNG of more than %d chunks", FL_PNG_MAX_CHUNKS);
            return 0;
        }
        if (memcmp(d + pos + 4, "IDAT", 4) == 0)
            idat += length;
        if (memcmp(d + pos + 4, "IEND", 4) == 0)
            break;
        pos += 12 + (size_t)length;
    }
    if (idat == 0) {
        snprintf(why, why_size, "a PNG without image data (no IDAT bytes before IEND)");
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------
 * EXIF orientation: the TIFF directory walk of OpenCV's ExifReader
 * ------------------------------------------------------------------------------- */

typedef struct tiff_reader {
    const uint8_t *d;
    size_t n;
    int little; /* "II"; anything else reads big-endian */
    int ok;     /* 0 once a read fell outside the data: the walk ends */
} tiff_reader;

static uint32_t tiff_u16(tiff_reader *t, size_t off)
{
    if (!t->ok || off + 1 >= t->n) {
        t->ok = 0;
        return 0;
    }
    return t->little ? (uint32_t)t->d[off] | ((uint32_t)t->d[off + 1] << 8) : be16(t->d + off);
}

static uint32_t tiff_u32(tiff_reader *t, size_t off)
{
    if (!t->ok || off + 3 >= t->n) {
        t->ok = 0;
        return 0;
    }
    return t->little ? (uint32_t)t->d[off] | ((uint32_t)t->d[off + 1] << 8) | ((uint32_t)t->d[off + 2] << 16) |
                           ((uint32_t)t->d[off + 3] << 24)
                     : be32(t->d + off);
}

/* Read `count` rationals at the offset stored in the entry at `entry` (a 32-bit offset
 * advancing by 8 with 32-bit wrap-around), only to learn whether they lie in the data. */
static void tiff_rationals(tiff_reader *t, size_t entry, int count)
{
    uint32_t at = tiff_u32(t, entry + 8);
    int i;
    for (i = 0; i < count && t->ok; i++, at += 8) {
        tiff_u32(t, at);
        tiff_u32(t, (size_t)at + 4);
    }
}

/* The Orientation (0x0112) of IFD0 of the TIFF data `d`, 1 when absent or unreadable. */
static int tiff_orientation(const uint8_t *d, size_t n)
{
    tiff_reader t;
    int orientation = 0;
    size_t entry;
    uint32_t count, i;
    t.d = d;
    t.n = n;
    t.ok = 1;
    t.little = n >= 2 && d[0] == 'I' && d[1] == 'I';
    if (n == 0 || tiff_u16(&t, 2) != 0x2A || !t.ok)
        return 1;
    entry = tiff_u32(&t, 4);
    count = tiff_u16(&t, entry);
    entry += 2;
    for (i = 0; i < count && t.ok; i++, entry += 12) {
        const uint32_t tag = tiff_u16(&t, entry);
        if (!t.ok)
            break;
        switch (tag) {
        case 0x010E: case 0x010F: case 0x0110: case 0x0131: case 0x0132: case 0x8298: { /* strings */
            const uint32_t length = tiff_u32(&t, entry + 4);
            size_t at = 8;
            if (t.ok && length > 4)
                at = tiff_u32(&t, entry + 8);
            if (t.ok && (at > n || at + length > n))
                t.ok = 0;
            break;
        }
        case 0x0112: {
            const uint32_t v = tiff_u16(&t, entry + 8);
            if (t.ok && orientation == 0)
                orientation = (int)v;
            break;
        }
        case 0x0128: case 0x0213: tiff_u16(&t, entry + 8); break;
        case 0x011A: case 0x011B: tiff_rationals(&t, entry, 1); break;
        case 0x013E: tiff_rationals(&t, entry, 2); break;
        case 0x0211: tiff_rationals(&t, entry, 3); break;
        case 0x013F: case 0x0214: tiff_rationals(&t, entry, 6); break;
        default: break;
        }
    }
    return orientation >= 1 && orientation <= 8 ? orientation : 1;
}

static int jpeg_orientation(const uint8_t *d, size_t n)
{
    const uint8_t *app1;
    size_t size;
    if (!jpeg_app1(d, n, &app1, &size) || size <= 6)
        return 1;
    return tiff_orientation(app1 + 6, size - 6); /* after "Exif\0\0" */
}

static const char *where_or(const char *where)
{
    return where != NULL ? where : "image";
}

fl_status fl_image_read_header(const void *data, size_t size, const char *where, fl_image_header *out, fl_error *err)
{
    const uint8_t *d = data;
    const char *name;
    int format;
    int64_t w = 0, h = 0;
    int found = 0;
    where = where_or(where);
    if (out == NULL || (d == NULL && size > 0))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_image_read_header: NULL data or output");
    format = sniff(d, size);
    if (format == 0) {
        name = other_format(d, size);
        if (name != NULL)
            return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: a%s %s image; facelite reads " ACCEPTED
                           " only; convert it to PNG or JPEG", where, strchr("AEIOU", name[0]) ? "n" : "", name);
        return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: not an image facelite can read (accepted formats: " ACCEPTED ")",
                       where);
    }
    if (format != FL_IMAGE_JPEG && format != FL_IMAGE_PNG)
        return fl_fail(err, FL_ERR_UNSUPPORTED,
                       "%s: a %s image; the C decoder reads JPEG and PNG only; convert it, or decode it yourself and "
                       "pass the pixels as an fl_image", where, fl_image_format_name((fl_image_format)format));
    if (format == FL_IMAGE_PNG && size >= 24 && memcmp(d + 12, "IHDR", 4) == 0) {
        w = be32(d + 16);
        h = be32(d + 20);
        found = 1;
    } else if (format == FL_IMAGE_JPEG) {
        found = jpeg_size(d, size, &w, &h);
    }
    if (!found)
        return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: a truncated or damaged %s header (no width and height found); "
                       "re-export or re-download the image", where, fl_image_format_name((fl_image_format)format));
    out->format = (fl_image_format)format;
    out->width = w;
    out->height = h;
    out->orientation = format == FL_IMAGE_JPEG ? jpeg_orientation(d, size) : 1;
    return fl_ok(err);
}

/* ---------------------------------------------------------------------------------
 * Decoded images
 * ------------------------------------------------------------------------------- */

void fl_decoded_image_init(fl_decoded_image *image)
{
    if (image != NULL)
        memset(image, 0, sizeof *image);
}

void fl_decoded_image_release(fl_decoded_image *image)
{
    if (image == NULL)
        return;
    free(image->pixels_);
    free(image->work_);
    fl_decoded_image_init(image);
}

/* Make `out` an upright view of the w x h BGR pixels in out->pixels_, applying EXIF
 * `orientation` (2-8) through the work buffer (OpenCV's ApplyExifOrientation). */
static fl_status orient(fl_decoded_image *out, int w, int h, int orientation, const char *where, fl_error *err)
{
    const size_t bytes = (size_t)w * (size_t)h * 3;
    const int transpose = orientation >= 5;
    const int ow = transpose ? h : w, oh = transpose ? w : h;
    uint8_t *swap;
    size_t capacity;
    int x, y;
    if (orientation >= 2 && orientation <= 8) {
        if (!fl_buffer_reserve((void **)&out->work_, &out->work_capacity_, bytes))
            return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory rotating %dx%d pixels", where, w, h);
        for (y = 0; y < oh; y++) {
            uint8_t *o = out->work_ + (size_t)y * (size_t)ow * 3;
            for (x = 0; x < ow; x++, o += 3) {
                int sx, sy; /* the source pixel shown at (x, y) */
                switch (orientation) {
                case 2: sx = w - 1 - x; sy = y; break;
                case 3: sx = w - 1 - x; sy = h - 1 - y; break;
                case 4: sx = x; sy = h - 1 - y; break;
                case 5: sx = y; sy = x; break;
                case 6: sx = y; sy = h - 1 - x; break;
                case 7: sx = w - 1 - y; sy = h - 1 - x; break;
                default: sx = w - 1 - y; sy = x; break;
                }
                memcpy(o, out->pixels_ + ((size_t)sy * (size_t)w + (size_t)sx) * 3, 3);
            }
        }
        swap = out->pixels_;
        out->pixels_ = out->work_;
        out->work_ = swap;
        capacity = out->pixels_capacity_;
        out->pixels_capacity_ = out->work_capacity_;
        out->work_capacity_ = capacity;
    } else {
        orientation = 1;
    }
    out->image.pixels = out->pixels_;
    out->image.width = ow;
    out->image.height = oh;
    out->image.stride = (size_t)ow * 3;
    out->image.format = FL_PIXELS_BGR;
    out->orientation = orientation;
    return FL_OK;
}

/* -- JPEG ------------------------------------------------------------------------- */

/* CMYK as libjpeg delivers it (Adobe's inverted convention) -> BGR, OpenCV's rule:
 * each of C, M, Y becomes k - ((255 - v) * k >> 8). */
static void cmyk_to_bgr(const uint8_t *cmyk, size_t count, uint8_t *bgr)
{
    size_t i;
    for (i = 0; i < count; i++, cmyk += 4, bgr += 3) {
        const unsigned k = cmyk[3];
        bgr[0] = (uint8_t)(k - (((255u - cmyk[2]) * k) >> 8));
        bgr[1] = (uint8_t)(k - (((255u - cmyk[1]) * k) >> 8));
        bgr[2] = (uint8_t)(k - (((255u - cmyk[0]) * k) >> 8));
    }
}

static fl_status decode_jpeg(const uint8_t *d, size_t n, const fl_image_header *hdr, const char *where,
                             fl_decoded_image *out, fl_error *err)
{
    tjhandle tj = tjInitDecompress();
    int w = 0, h = 0, subsamp = 0, colorspace = 0, rc;
    uint8_t *cmyk = NULL;
    fl_status st = FL_OK;
    if (tj == NULL)
        return fl_fail(err, FL_ERR_NO_MEMORY, "%s: cannot start the JPEG decoder (%s)", where, tjGetErrorStr2(NULL));
    if (tjDecompressHeader3(tj, d, (unsigned long)n, &w, &h, &subsamp, &colorspace) != 0) {
        st = fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: a damaged JPEG image (libjpeg-turbo: %s); re-export or "
                     "re-download it", where, tjGetErrorStr2(tj));
        goto done;
    }
    if ((int64_t)w != hdr->width || (int64_t)h != hdr->height) {
        st = fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: its JPEG header says %lldx%lld but the pixels decode to %dx%d; "
                     "the file is damaged or crafted, re-export it", where, (long long)hdr->width,
                     (long long)hdr->height, w, h);
        goto done;
    }
    if (!fl_buffer_reserve((void **)&out->pixels_, &out->pixels_capacity_, (size_t)w * (size_t)h * 3)) {
        st = fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for %dx%d pixels", where, w, h);
        goto done;
    }
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) {
        cmyk = malloc((size_t)w * (size_t)h * 4);
        if (cmyk == NULL) {
            st = fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for %dx%d CMYK pixels", where, w, h);
            goto done;
        }
        rc = tjDecompress2(tj, d, (unsigned long)n, cmyk, w, w * 4, h, TJPF_CMYK, 0);
    } else {
        rc = tjDecompress2(tj, d, (unsigned long)n, out->pixels_, w, w * 3, h, TJPF_BGR, 0);
    }
    /* Warnings (corrupt data libjpeg works around) still give pixels, as with OpenCV. */
    if (rc != 0 && tjGetErrorCode(tj) != TJERR_WARNING) {
        st = fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: a damaged JPEG image (libjpeg-turbo: %s); re-export or "
                     "re-download it", where, tjGetErrorStr2(tj));
        goto done;
    }
    if (cmyk != NULL)
        cmyk_to_bgr(cmyk, (size_t)w * (size_t)h, out->pixels_);
    st = orient(out, w, h, hdr->orientation, where, err);
done:
    free(cmyk);
    tjDestroy(tj);
    return st;
}

/* -- PNG -------------------------------------------------------------------------- */

typedef struct png_source {
    const uint8_t *d;
    size_t n, pos;
    char message[256];
} png_source;

static void png_read_bytes(png_structp png, png_bytep into, size_t length)
{
    png_source *src = png_get_io_ptr(png);
    if (length > src->n - src->pos)
        png_error(png, "the data ends before the image does (truncated)");
    memcpy(into, src->d + src->pos, length);
    src->pos += length;
}

static void png_on_error(png_structp png, png_const_charp message)
{
    png_source *src = png_get_error_ptr(png);
    snprintf(src->message, sizeof src->message, "%s", message);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message;
}

/* What the libpng calls need, in one place so that nothing lives in registers across setjmp. */
typedef struct png_job {
    png_source src;
    png_structp png;
    png_infop info;
    uint8_t *pixels;     /* w * h * 3 */
    int64_t width;       /* from our header read */
    int64_t height;
    png_uint_32 got_w, got_h;
    int orientation;
} png_job;

/* 1 when decoded, 0 on a libpng error (message in job->src.message), -1 on a size mismatch. */
static int png_run(png_job *job)
{
    png_structp png = job->png;
    png_infop info = job->info;
    int depth, color, passes, pass;
    png_uint_32 y;
    png_bytep exif = NULL;
    png_uint_32 exif_size = 0;
    if (setjmp(png_jmpbuf(png)) != 0)
        return 0;
    png_set_read_fn(png, &job->src, png_read_bytes);
    png_read_info(png, info);
    job->got_w = png_get_image_width(png, info);
    job->got_h = png_get_image_height(png, info);
    if ((int64_t)job->got_w != job->width || (int64_t)job->got_h != job->height)
        return -1;
    depth = png_get_bit_depth(png, info);
    color = png_get_color_type(png, info);
    if (depth == 16)
        png_set_strip_16(png); /* the high byte */
    png_set_strip_alpha(png);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if ((color & PNG_COLOR_MASK_COLOR) == 0 && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (color & PNG_COLOR_MASK_COLOR)
        png_set_bgr(png);
    else
        png_set_gray_to_rgb(png);
    passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)job->got_w * 3)
        png_error(png, "unexpected row size after the colour transforms");
    for (pass = 0; pass < passes; pass++)
        for (y = 0; y < job->got_h; y++)
            png_read_row(png, job->pixels + (size_t)y * job->got_w * 3, NULL);
    png_read_end(png, info);
    job->orientation = 1;
    if (png_get_eXIf_1(png, info, &exif_size, &exif) != 0 && exif != NULL)
        job->orientation = tiff_orientation(exif, exif_size);
    return 1;
}

static fl_status decode_png(const uint8_t *d, size_t n, const fl_image_header *hdr, const char *where,
                            fl_decoded_image *out, fl_error *err)
{
    png_job job;
    int rc;
    memset(&job, 0, sizeof job);
    job.src.d = d;
    job.src.n = n;
    job.width = hdr->width;
    job.height = hdr->height;
    if (!fl_buffer_reserve((void **)&out->pixels_, &out->pixels_capacity_,
                           (size_t)hdr->width * (size_t)hdr->height * 3))
        return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for %lldx%lld pixels", where,
                       (long long)hdr->width, (long long)hdr->height);
    job.pixels = out->pixels_;
    job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job.src, png_on_error, png_on_warning);
    if (job.png != NULL)
        job.info = png_create_info_struct(job.png);
    if (job.png == NULL || job.info == NULL) {
        png_destroy_read_struct(&job.png, &job.info, NULL);
        return fl_fail(err, FL_ERR_NO_MEMORY, "%s: cannot start the PNG decoder", where);
    }
    rc = png_run(&job);
    png_destroy_read_struct(&job.png, &job.info, NULL);
    if (rc < 0)
        return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: its PNG header says %lldx%lld but the pixels decode to %ux%u; "
                       "the file is damaged or crafted, re-export it", where, (long long)hdr->width,
                       (long long)hdr->height, (unsigned)job.got_w, (unsigned)job.got_h);
    if (rc == 0)
        return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: a damaged PNG image (libpng: %s); re-export or re-download it",
                       where, job.src.message);
    return orient(out, (int)hdr->width, (int)hdr->height, job.orientation, where, err);
}

/* -- both ------------------------------------------------------------------------- */

fl_status fl_image_decode(const void *data, size_t size, const char *where, fl_decoded_image *out, fl_error *err)
{
    const uint8_t *d = data;
    fl_image_header hdr;
    fl_status st;
    where = where_or(where);
    if (out == NULL || (d == NULL && size > 0))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_image_decode: NULL data or output");
    if (size == 0)
        return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: is empty (0 bytes), not an image", where);
    if ((long long)size > FL_IMAGE_MAX_BYTES)
        return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: %zu bytes of encoded image, over the 64 MiB limit; re-encode "
                       "or downscale it", where, size);
    if ((st = fl_image_read_header(d, size, where, &hdr, err)) != FL_OK)
        return st;
    if (hdr.width < 1 || hdr.height < 1)
        return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: its %s header says %lldx%lld; an image needs at least 1x1 "
                       "pixels, the file is damaged", where, fl_image_format_name(hdr.format),
                       (long long)hdr.width, (long long)hdr.height);
    if (hdr.width > FL_IMAGE_MAX_PIXELS || hdr.height > FL_IMAGE_MAX_PIXELS ||
        hdr.width * hdr.height > FL_IMAGE_MAX_PIXELS)
        return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: is %lldx%lld (%.1f megapixels), over the 50 megapixel limit; "
                       "downscale it first", where, (long long)hdr.width, (long long)hdr.height,
                       (double)(hdr.width * hdr.height) / 1e6);
    if (hdr.format == FL_IMAGE_JPEG) {
        const long scans = jpeg_scans(d, size);
        if (scans < 0)
            return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: truncated JPEG (no end-of-image marker); re-export or "
                           "re-download the image", where);
        if (scans > FL_JPEG_MAX_SCANS)
            return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: a JPEG of %ld scans, over the %d a real encoder writes; "
                           "re-export or re-download the image", where, scans, FL_JPEG_MAX_SCANS);
        st = decode_jpeg(d, size, &hdr, where, out, err);
    } else {
        char why[256];
        if (!png_structure(d, size, why, sizeof why))
            return fl_fail(err, FL_ERR_IMAGE_INVALID, "%s: %s; re-export or re-download the image", where, why);
        st = decode_png(d, size, &hdr, where, out, err);
    }
    return st == FL_OK ? fl_ok(err) : st;
}

/* -- files ------------------------------------------------------------------------ */

fl_status fl_image_load(const char *path, fl_decoded_image *out, fl_error *err)
{
    uint8_t *data;
    size_t size;
    fl_status st;
    if (path == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_image_load: NULL path or output");
    if ((st = fl_file_read(path, (uint64_t)FL_IMAGE_MAX_BYTES, "image", &data, &size, err)) != FL_OK)
        return st;
    st = fl_image_decode(data, size, path, out, err);
    free(data);
    return st;
}
