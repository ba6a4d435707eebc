/*
 * test_image_corrupt: the decoder survives damaged files. Truncated and byte-mutated
 * JPEGs (baseline and progressive, with an EXIF directory) and PNGs (half of the
 * mutations with their chunk CRCs rewritten, so they reach inflate and the filters) either decode to an image within the limits or fail with a status and a
 * message; never a crash, a hang or a read out of bounds (run it under
 * -DFACELITE_SANITIZE=ON to check the last). One fl_decoded_image is reused throughout,
 * as an app reuses it between frames.
 */
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "facelite/facelite.h"
#include "facelite/image.h"

enum { W = 45, H = 31 };

static uint32_t g_seed = 777;
static int g_failures;

static uint32_t next(void)
{
    g_seed = g_seed * 1664525u + 1013904223u;
    return g_seed >> 8;
}

static void photo(uint8_t *rgb)
{
    int x, y, c;
    for (y = 0; y < H; y++)
        for (x = 0; x < W; x++)
            for (c = 0; c < 3; c++)
                rgb[(y * W + x) * 3 + c] = (uint8_t)((x * 5 + y * 3 + c * 70 + (int)(next() % 40)) & 0xFF);
}

/* A JPEG of the photo with an APP1 EXIF directory (Make string, Orientation 6, XResolution). */
static uint8_t *make_jpeg(int progressive, size_t *size)
{
    static uint8_t app1[] = {
        0xFF, 0xE1, 0x00, 0x00, 'E', 'x', 'i', 'f', 0, 0,                  /* APP1, length set below */
        'I', 'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x03, 0x00,          /* TIFF, IFD0 at 8: 3 entries */
        0x0F, 0x01, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x32, 0x00, 0x00, 0x00, /* Make, 6 bytes at 50 */
        0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, /* Orientation 6 */
        0x1A, 0x01, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, /* XResolution at 56 */
        0x00, 0x00, 0x00, 0x00, 'C', 'a', 'm', 'e', 'r', 0, 0x48, 0, 0, 0, 0x01, 0, 0, 0};
    uint8_t rgb[W * H * 3], *jpeg = NULL, *out;
    unsigned long n = 0;
    tjhandle tj = tjInitCompress();
    app1[3] = (uint8_t)(sizeof app1 - 2);
    photo(rgb);
    if (tjCompress2(tj, rgb, W, W * 3, H, TJPF_RGB, &jpeg, &n, TJSAMP_420, 85, progressive ? TJFLAG_PROGRESSIVE : 0)) {
        printf("FAIL: cannot make a JPEG: %s\n", tjGetErrorStr2(tj));
        exit(1);
    }
    out = malloc(n + sizeof app1);
    memcpy(out, jpeg, 2);
    memcpy(out + 2, app1, sizeof app1);
    memcpy(out + 2 + sizeof app1, jpeg + 2, n - 2);
    *size = n + sizeof app1;
    tjFree(jpeg);
    tjDestroy(tj);
    return out;
}

/* A PNG of random RGBA pixels, written with libpng. */
static uint8_t *make_png(size_t *size)
{
    png_image img;
    uint8_t rgba[W * H * 4];
    size_t n = 0;
    uint8_t *out;
    int i;
    for (i = 0; i < W * H * 4; i++)
        rgba[i] = (uint8_t)next();
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = W;
    img.height = H;
    img.format = PNG_FORMAT_RGBA;
    if (!png_image_write_to_memory(&img, NULL, &n, 0, rgba, 0, NULL)) {
        printf("FAIL: cannot size a PNG: %s\n", img.message);
        exit(1);
    }
    out = malloc(n);
    if (!png_image_write_to_memory(&img, out, &n, 0, rgba, 0, NULL)) {
        printf("FAIL: cannot make a PNG: %s\n", img.message);
        exit(1);
    }
    *size = n;
    return out;
}

/* The PNG chunk CRC (CRC-32, polynomial 0xEDB88320) of `n` bytes. */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Rewrite every whole chunk's CRC, so a mutation reaches libpng's inflate and filters
 * instead of stopping at the checksum. */
static void fix_png_crcs(uint8_t *d, size_t n)
{
    size_t pos = 8;
    while (pos + 12 <= n) {
        const uint32_t length = ((uint32_t)d[pos] << 24) | ((uint32_t)d[pos + 1] << 16) |
                                ((uint32_t)d[pos + 2] << 8) | d[pos + 3];
        uint32_t crc;
        if (length > n - pos - 12)
            return;
        crc = crc32_of(d + pos + 4, (size_t)length + 4);
        d[pos + 8 + length] = (uint8_t)(crc >> 24);
        d[pos + 9 + length] = (uint8_t)(crc >> 16);
        d[pos + 10 + length] = (uint8_t)(crc >> 8);
        d[pos + 11 + length] = (uint8_t)crc;
        pos += 12 + (size_t)length;
    }
}

/* Decode `data`; an error needs a message, a success a sane image. */
static void decode_one(const uint8_t *data, size_t size, fl_decoded_image *img, const char *what, int *ok_count)
{
    fl_error err;
    fl_status st;
    err.message[0] = '\0';
    st = fl_image_decode(data, size, what, img, &err);
    if (st == FL_OK) {
        const fl_image *im = &img->image;
        if (im->pixels == NULL || im->width < 1 || im->height < 1 ||
            (long long)im->width * im->height > FL_IMAGE_MAX_PIXELS || im->stride != (size_t)im->width * 3) {
            printf("FAIL %s: decoded to an impossible image %dx%d\n", what, im->width, im->height);
            g_failures++;
        }
        (*ok_count)++;
    } else if (err.message[0] == '\0' || err.code != st || !fl_status_is_user_error(st)) {
        printf("FAIL %s: status %s with message '%s'\n", what, fl_status_name(st), err.message);
        g_failures++;
    }
}

static void torture(const char *name, const uint8_t *base, size_t size, int png, fl_decoded_image *img)
{
    uint8_t *copy = malloc(size);
    int i, ok = 0, cases = 0;
    char what[64];
    decode_one(base, size, img, name, &ok);
    if (ok != 1) {
        printf("FAIL %s: the intact file does not decode\n", name);
        g_failures++;
    }
    for (i = 1; i <= 150; i++, cases++) { /* truncations */
        snprintf(what, sizeof what, "%s truncated", name);
        decode_one(base, size * (size_t)i / 151, img, what, &ok);
    }
    for (i = 0; i < 400; i++, cases++) { /* byte mutations, half of them in the first 120 bytes */
        int k, count = 1 + (int)(next() % 8);
        memcpy(copy, base, size);
        for (k = 0; k < count; k++) {
            const size_t at = (i % 2 ? next() % (size < 120 ? size : 120) : next() % size);
            copy[at] = (uint8_t)(k % 3 == 0 ? next() : (k % 3 == 1 ? 0xFF : copy[at] ^ (1u << (next() % 8))));
        }
        if (png && i % 4 < 2)
            fix_png_crcs(copy, size);
        snprintf(what, sizeof what, "%s mutated", name);
        decode_one(copy, size, img, what, &ok);
    }
    printf("ok   %s: %d damaged copies, %d still decode, none crashed\n", name, cases, ok - 1);
    free(copy);
}

int main(void)
{
    fl_decoded_image img;
    size_t n;
    uint8_t *data;
    fl_decoded_image_init(&img);
    data = make_jpeg(0, &n);
    torture("baseline JPEG", data, n, 0, &img);
    free(data);
    data = make_jpeg(1, &n);
    torture("progressive JPEG", data, n, 0, &img);
    free(data);
    data = make_png(&n);
    torture("PNG", data, n, 1, &img);
    free(data);
    fl_decoded_image_release(&img);
    printf("%s (%d failures)\n", g_failures == 0 ? "ok" : "FAILED", g_failures);
    return g_failures == 0 ? 0 : 1;
}
