/* test_bundle_zip: the bundle's zip reader on good bundles and on truncated, byte-flipped and
 * crafted ones. Every mutant must be refused with a message (or, for bytes no reader uses,
 * accepted); none may crash, which the sanitizer build (FACELITE_SANITIZE=ON) makes strict.
 *
 * Bundles: argv[1...] when given, else tests/fixtures/bundles/tiny.flb and the shipped
 * models/<name>/<name>.flb under $FACELITE_REPO. */
#include <stdint.h>

#include "check.h"
#include "zip.h"

static const char *const DEFAULT_BUNDLES[] = {"tests/fixtures/bundles/tiny.flb",
                                              "tests/fixtures/bundles/expression.flb",
                                              "tests/fixtures/bundles/face_detector.flb",
                                              "tests/fixtures/bundles/landmarks.flb",
                                              "models/expression/expression.flb",
                                              "models/acne/acne.flb",
                                              "models/face_detector/face_detector.flb",
                                              "models/landmarks/landmarks.flb",
                                              NULL};

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xFFFF), put16(p + 2, v >> 16); }

static fl_status open_copy(const uint8_t *data, size_t size, fl_signature_requirement sig, fl_error *err)
{
    fl_bundle_options options;
    fl_bundle_options_init(&options);
    options.signature = sig;
    uint8_t *copy = malloc(size ? size : 1); /* an exact-size heap copy: ASan sees any overread */
    memcpy(copy, data, size);
    fl_bundle *b = NULL;
    fl_status st = fl_bundle_open_buffer(copy, size, &options, &b, err);
    fl_bundle_destroy(b);
    free(copy);
    return st;
}

/* Offsets of the central-directory entries (the test walks them itself). */
static size_t central_entries(const uint8_t *d, size_t size, size_t *at, size_t cap)
{
    size_t end = size - 22, n = 0;
    uint32_t cd = (uint32_t)d[end + 16] | (uint32_t)d[end + 17] << 8 | (uint32_t)d[end + 18] << 16 |
                  (uint32_t)d[end + 19] << 24;
    for (size_t p = cd; p + 46 <= end && n < cap && memcmp(d + p, "PK\x01\x02", 4) == 0;) {
        at[n++] = p;
        p += 46 + (size_t)(d[p + 28] | d[p + 29] << 8) + (size_t)(d[p + 30] | d[p + 31] << 8) +
             (size_t)(d[p + 32] | d[p + 33] << 8);
    }
    return n;
}

static void good_bundle(const char *path)
{
    fl_error err;
    size_t size;
    uint8_t *data = slurp(path, &size);
    CHECK(data != NULL, "%s: cannot read", path);
    if (data == NULL) return;
    fl_zip zip;
    CHECK_STATUS(fl_zip_read(data, size, path, &zip, &err), FL_OK, &err, NULL);
    CHECK(fl_zip_find(&zip, "manifest.json") != NULL, "%s: no manifest", path);
    for (size_t i = 0; i < zip.count; i++) {
        const fl_zip_member *m = &zip.members[i];
        CHECK(m->offset % FL_ZIP_ALIGNMENT == 0, "%s: %s at %llu", path, m->name, (unsigned long long)m->offset);
        CHECK(fl_crc32(data + m->offset, m->size) == m->crc32, "%s: %s CRC", path, m->name);
    }
    fl_bundle *a = NULL, *b = NULL;
    CHECK_STATUS(fl_bundle_open(path, NULL, &a, &err), FL_OK, &err, NULL);
    CHECK_STATUS(fl_bundle_open_buffer(data, size, NULL, &b, &err), FL_OK, &err, NULL);
    if (a && b) {
        CHECK(strcmp(fl_bundle_name(a), fl_bundle_name(b)) == 0, "names differ");
        CHECK(fl_bundle_variant_count(a) == fl_bundle_variant_count(b), "variant counts differ");
        CHECK(strcmp(fl_bundle_path(b), "<buffer>") == 0, "buffer path %s", fl_bundle_path(b));
    }
    fl_bundle_destroy(a);
    fl_bundle_destroy(b);
    free(data);
}

/* Every truncation refused; flips in the directory and headers never crash; flips in member
 * bytes refused (the signature covers every member). */
static void mutants(const char *path)
{
    fl_error err;
    size_t size;
    uint8_t *data = slurp(path, &size);
    if (data == NULL) return;
    fl_zip zip;
    if (fl_zip_read(data, size, path, &zip, &err) != FL_OK) {
        free(data);
        return;
    }
    size_t step = size / 400 + 1;
    for (size_t cut = 0; cut < size; cut += (cut + 200 >= size ? 1 : step))
        CHECK(open_copy(data, cut, FL_SIGNATURE_OPTIONAL, &err) != FL_OK, "%s cut to %zu bytes opened", path, cut);
    /* Every byte of the central directory and end record, flipped. */
    size_t entries[FL_ZIP_MAX_MEMBERS];
    size_t n = central_entries(data, size, entries, FL_ZIP_MAX_MEMBERS);
    CHECK(n == zip.count, "%s: walked %zu entries of %zu", path, n, zip.count);
    for (size_t p = entries[0]; p < size; p++) {
        data[p] ^= 0xFF;
        fl_status st = open_copy(data, size, FL_SIGNATURE_REQUIRED, &err);
        CHECK(st == FL_OK || err.message[0], "%s: flip at %zu refused without a message", path, p);
        data[p] ^= 0xFF;
    }
    /* Every byte of every local header and name. */
    for (size_t i = 0; i < zip.count; i++) {
        for (uint64_t p = zip.members[i].header_offset; p < zip.members[i].offset; p++) {
            data[p] ^= 0x5A;
            fl_status st = open_copy(data, size, FL_SIGNATURE_REQUIRED, &err);
            CHECK(st == FL_OK || err.message[0], "%s: flip at %llu refused without a message", path,
                  (unsigned long long)p);
            data[p] ^= 0x5A;
        }
    }
    /* Seeded flips anywhere: inside a member's bytes, the signature must refuse it. */
    uint64_t state = 15;
    for (int k = 0; k < 300; k++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        size_t p = (size_t)(state >> 33) % size;
        int in_member = 0;
        for (size_t i = 0; i < zip.count; i++) /* signature.json's `signed` block is informative */
            in_member |= p >= zip.members[i].offset && p < zip.members[i].offset + zip.members[i].size &&
                         strcmp(zip.members[i].name, "signature.json") != 0;
        data[p] ^= 0x01;
        fl_status st = open_copy(data, size, FL_SIGNATURE_REQUIRED, &err);
        if (in_member) CHECK(st != FL_OK, "%s: a flip inside member bytes at %zu opened", path, p);
        data[p] ^= 0x01;
    }
    free(data);
}

typedef struct crafted {
    const char *what, *needle;
} crafted;

/* Hand-made violations of each rule of the reader, on a copy of `path`. */
static void crafted_cases(const char *path)
{
    fl_error err;
    size_t size;
    uint8_t *good = slurp(path, &size);
    if (good == NULL) return;
    fl_zip zip;
    if (fl_zip_read(good, size, path, &zip, &err) != FL_OK) {
        free(good);
        return;
    }
    size_t entries[FL_ZIP_MAX_MEMBERS];
    central_entries(good, size, entries, FL_ZIP_MAX_MEMBERS);
    size_t end = size - 22;
    uint8_t *d = malloc(size + 64);
    const fl_zip_member *m1 = &zip.members[1];
    size_t c1 = entries[1], l1 = (size_t)m1->header_offset;
    static const crafted cases[] = {
        {"deflate", "compressed (deflate)"},     {"encrypted", "is encrypted"},
        {"flags", "zip flags"},                  {"sizes", "sizes differ"},
        {"cap", "over the"},                     {"duplicate", "two members named"},
        {"dotdot", "not a plain relative name"}, {"absolute", "not a plain relative name"},
        {"zip64", "zip64"},                      {"disks", "several disks"},
        {"count", "more than the 64"},           {"cd_offset", "does not end where"},
        {"local_crc", "disagree"},               {"local_name", "another name"},
        {"local_sig", "no local header"},        {"overlap", "overlap"},
        {"no_manifest", "no manifest.json"},     {"not_zip", "no end-of-central-directory"},
        {"manifest_crc", "CRC-32"},              {"trailing", "no end-of-central-directory"},
        {"disk_start", "another disk"},          {"backslash", "not a plain relative name"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *w = cases[k].what;
        size_t n = size;
        memcpy(d, good, size);
        if (!strcmp(w, "deflate")) put16(d + c1 + 10, 8), put16(d + l1 + 8, 8);
        else if (!strcmp(w, "encrypted")) put16(d + c1 + 8, 1), put16(d + l1 + 6, 1);
        else if (!strcmp(w, "flags")) put16(d + c1 + 8, 8), put16(d + l1 + 6, 8);
        else if (!strcmp(w, "sizes")) put32(d + c1 + 20, (uint32_t)m1->size + 1);
        else if (!strcmp(w, "cap")) {
            size_t c0 = entries[0]; /* manifest.json: 1 MiB cap */
            put32(d + c0 + 20, (2u << 20)), put32(d + c0 + 24, (2u << 20));
        } else if (!strcmp(w, "duplicate")) { /* a later member renamed to an earlier one of the same length */
            int made = 0;
            for (size_t i = 0; i < zip.count && !made; i++)
                for (size_t j = i + 1; j < zip.count && !made; j++) {
                    size_t len = strlen(zip.members[i].name);
                    if (len != strlen(zip.members[j].name)) continue;
                    memcpy(d + entries[j] + 46, zip.members[i].name, len);
                    memcpy(d + (size_t)zip.members[j].header_offset + 30, zip.members[i].name, len);
                    made = 1;
                }
            CHECK(made, "%s: no two member names of one length to make a duplicate", path);
        } else if (!strcmp(w, "dotdot")) memcpy(d + c1 + 46, "../", 3), memcpy(d + l1 + 30, "../", 3);
        else if (!strcmp(w, "absolute")) d[c1 + 46] = '/', d[l1 + 30] = '/';
        else if (!strcmp(w, "backslash")) d[c1 + 47] = '\\', d[l1 + 31] = '\\';
        else if (!strcmp(w, "zip64")) put16(d + end + 8, 0xFFFF), put16(d + end + 10, 0xFFFF);
        else if (!strcmp(w, "disks")) put16(d + end + 4, 1);
        else if (!strcmp(w, "count")) put16(d + end + 8, 65), put16(d + end + 10, 65);
        else if (!strcmp(w, "cd_offset")) put32(d + end + 16, (uint32_t)entries[0] + 1);
        else if (!strcmp(w, "local_crc")) d[l1 + 14] ^= 1;
        else if (!strcmp(w, "local_name")) d[l1 + 30] ^= 0x20;
        else if (!strcmp(w, "local_sig")) d[l1] = 'X';
        else if (!strcmp(w, "overlap")) { /* member 2's local header copied into member 1's bytes, and used */
            const fl_zip_member *m2 = &zip.members[2];
            size_t header = (size_t)(m2->offset - m2->header_offset), q = (size_t)m1->offset + 64;
            memcpy(d + q, good + m2->header_offset, header);
            put32(d + entries[2] + 42, (uint32_t)q);
        }
        else if (!strcmp(w, "no_manifest")) {
            d[entries[0] + 46] = 'n', d[(size_t)zip.members[0].header_offset + 30] = 'n';
        } else if (!strcmp(w, "not_zip")) memset(d + end, 0, 22);
        else if (!strcmp(w, "manifest_crc")) d[zip.members[0].offset + 3] ^= 0x01;
        else if (!strcmp(w, "trailing")) memcpy(d + size, "appended", 8), n = size + 8;
        else if (!strcmp(w, "disk_start")) put16(d + c1 + 34, 1);
        fl_status st = open_copy(d, n, FL_SIGNATURE_OPTIONAL, &err);
        CHECK(st != FL_OK && strstr(err.message, cases[k].needle) != NULL, "%s: case %s: got %s: %s", path, w,
              fl_status_name(st), err.message);
    }
    free(d);
    free(good);
}

static void names(void)
{
    static const char *const ok[] = {"manifest.json", "golden/inputs.npy", "a-b_c.d/e", NULL};
    static const char *const bad[] = {"", "/abs", "a//b", "a/../b", ".", "..", "a/", "a\\b", "a b", "ü", "a:b", NULL};
    for (size_t i = 0; ok[i]; i++) CHECK(fl_member_name_ok(ok[i], strlen(ok[i])), "'%s' refused", ok[i]);
    for (size_t i = 0; bad[i]; i++) CHECK(!fl_member_name_ok(bad[i], strlen(bad[i])), "'%s' accepted", bad[i]);
    CHECK(fl_member_size_cap("manifest.json") == 1u << 20, "manifest cap");
    CHECK(fl_member_size_cap("report.json") == 4u << 20, "report cap");
    CHECK(fl_member_size_cap("golden/x.npy") == 64u << 20, "npy cap");
    CHECK(fl_member_size_cap("int8.tflite") == 512u << 20, "tflite cap");
    CHECK(fl_member_size_cap("signature.json") == 1u << 20, "other cap");
    CHECK(fl_crc32((const uint8_t *)"123456789", 9) == 0xCBF43926u, "CRC-32 check value");
}

static void files(void)
{
    fl_error err;
    fl_bundle *b = NULL;
    CHECK_STATUS(fl_bundle_open("/nonexistent/x.flb", NULL, &b, &err), FL_ERR_IO, &err, "no such bundle file");
    CHECK_STATUS(fl_bundle_open("/", NULL, &b, &err), FL_ERR_IO, &err, "is a directory");
    CHECK_STATUS(fl_bundle_open("/dev/null", NULL, &b, &err), FL_ERR_IO, &err, "character device");
    CHECK_STATUS(fl_bundle_open(NULL, NULL, &b, &err), FL_ERR_INVALID_ARGUMENT, &err, NULL);
    CHECK_STATUS(fl_bundle_open_buffer(NULL, 3, NULL, &b, &err), FL_ERR_INVALID_ARGUMENT, &err, NULL);
    CHECK(b == NULL, "a failed open left a handle");
}

int main(int argc, char **argv)
{
    char path[4096];
    names();
    files();
    for (int i = 0; DEFAULT_BUNDLES[i] || i + 1 < argc; i++) {
        if (argc > 1 && i + 1 >= argc) break;
        if (argc > 1)
            snprintf(path, sizeof path, "%s", argv[i + 1]);
        else
            snprintf(path, sizeof path, "%s/%s", repo_root(), DEFAULT_BUNDLES[i]);
        good_bundle(path);
        if (i == 0 || argc > 1) { /* the mutant sweeps on the small fixture (or the bundles given) */
            mutants(path);
            crafted_cases(path);
        }
    }
    return check_done("test_bundle_zip");
}
