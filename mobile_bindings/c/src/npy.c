/* npy.c: the .npy reader of facelite.bundle.read_npy, in C. */
#include "npy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

typedef struct header {
    const char *p, *end;
} header;

static void ws(header *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r')) h->p++;
}

static int quoted(header *h, char *out, size_t cap)
{
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"')) return 0;
    char q = *h->p++;
    size_t n = 0;
    while (h->p < h->end && *h->p != q) {
        if (*h->p == '\\' || n + 1 >= cap) return 0;
        out[n++] = *h->p++;
    }
    if (h->p >= h->end) return 0;
    h->p++;
    out[n] = '\0';
    return 1;
}

static int word(header *h, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(h->end - h->p) < n || memcmp(h->p, w, n) != 0) return 0;
    h->p += n;
    return 1;
}

/* (a, b, c) of non-negative decimal integers; (n,) and () included. */
static int shape_tuple(header *h, int64_t *shape, size_t *rank)
{
    *rank = 0;
    if (h->p >= h->end || *h->p != '(') return 0;
    h->p++;
    for (;;) {
        ws(h);
        if (h->p < h->end && *h->p == ')') {
            h->p++;
            return 1;
        }
        if (h->p >= h->end || *h->p < '0' || *h->p > '9') return 0;
        int64_t v = 0;
        while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
            if (v > (INT64_MAX - 9) / 10) return 0;
            v = v * 10 + (*h->p++ - '0');
        }
        if (*rank >= FL_MAX_RANK + 1) return 0; /* reported as too many dimensions */
        shape[(*rank)++] = v;
        ws(h);
        if (h->p < h->end && *h->p == ',') {
            h->p++;
            continue;
        }
        if (h->p < h->end && *h->p == ')') {
            h->p++;
            return *rank != 1; /* Python reads (n) as a number: a 1-tuple needs its comma */
        }
        return 0;
    }
}

static int dtype_of(const char *descr, fl_dtype *out)
{
    static const struct {
        const char *code;
        fl_dtype dtype;
    } table[] = {{"u1", FL_DTYPE_UINT8}, {"i1", FL_DTYPE_INT8},    {"i2", FL_DTYPE_INT16},  {"i4", FL_DTYPE_INT32},
                 {"f2", FL_DTYPE_FLOAT16}, {"f4", FL_DTYPE_FLOAT32}, {"f8", FL_DTYPE_FLOAT64}};
    const char *code = descr;
    char order = 0;
    if (*code == '<' || *code == '>' || *code == '|' || *code == '=') order = *code++;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strcmp(code, table[i].code) != 0) continue;
        if (order == '>' && code[1] != '1') return 0; /* big-endian multi-byte */
        *out = table[i].dtype;
        return 1;
    }
    return 0;
}

fl_status fl_npy_parse(const void *data, size_t size, const char *where, fl_array **out, fl_error *err)
{
    const uint8_t *b = data;
    *out = NULL;
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: not a readable .npy header (no NumPy magic string)", where);
    size_t start, len;
    if (b[6] == 1 && b[7] == 0) {
        start = 10;
        len = (size_t)b[8] | ((size_t)b[9] << 8);
    } else if (b[6] == 2 && b[7] == 0 && size >= 12) {
        start = 12;
        len = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
    } else {
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: not a readable .npy header (format version %u.%u; facelite reads 1.0 and 2.0)", where, b[6],
                       b[7]);
    }
    if (len > FL_NPY_MAX_HEADER)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: not a readable .npy header (header of %zu bytes, more than %d)", where, len,
                       FL_NPY_MAX_HEADER);
    if (size - start < len)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: not a readable .npy header (the header is cut short)", where);
    header h = {(const char *)b + start, (const char *)b + start + len};
    char descr[32] = "", key[32];
    int fortran = -1, seen = 0;
    int64_t shape[FL_MAX_RANK + 1];
    size_t rank = 0;
    ws(&h);
    if (!word(&h, "{")) goto syntax;
    for (;;) {
        ws(&h);
        if (word(&h, "}")) break;
        if (!quoted(&h, key, sizeof key)) goto syntax;
        ws(&h);
        if (!word(&h, ":")) goto syntax;
        ws(&h);
        int bit;
        if (strcmp(key, "descr") == 0) {
            bit = 1;
            if (!quoted(&h, descr, sizeof descr)) goto syntax;
        } else if (strcmp(key, "fortran_order") == 0) {
            bit = 2;
            if (word(&h, "True"))
                fortran = 1;
            else if (word(&h, "False"))
                fortran = 0;
            else
                goto syntax;
        } else if (strcmp(key, "shape") == 0) {
            bit = 4;
            if (!shape_tuple(&h, shape, &rank)) goto syntax;
        } else {
            return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: not a readable .npy header (unexpected key '%s')", where,
                           key);
        }
        if (seen & bit) goto syntax;
        seen |= bit;
        ws(&h);
        if (word(&h, ",")) continue;
        ws(&h);
        if (word(&h, "}")) break;
        goto syntax;
    }
    ws(&h);
    if (h.p != h.end || seen != 7) goto syntax;
    fl_dtype dtype;
    if (!dtype_of(descr, &dtype))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: holds %s elements; a golden array holds one of |u1, |i1, <i2, <i4, <f2, <f4, <f8 (never "
                       "Python objects)",
                       where, descr);
    if (fortran)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: is stored in Fortran order; goldens are C-ordered", where);
    if (rank > FL_MAX_RANK)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: header shape has more than %d dimensions", where, FL_MAX_RANK);
    size_t payload = size - start - len, item = fl_dtype_size(dtype), count = 1;
    int overflow = 0;
    for (size_t i = 0; i < rank; i++) {
        if (shape[i] != 0 && count > SIZE_MAX / item / (size_t)shape[i]) overflow = 1;
        else count *= (size_t)shape[i];
    }
    if (overflow || count * item != payload)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: the header's shape of %s (%s bytes) does not fit the %zu bytes the member holds; the "
                       "bundle is damaged",
                       where, fl_dtype_name(dtype), overflow ? "too many" : "other", payload);
    fl_array *a = calloc(1, sizeof *a);
    if (a == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory", where);
    a->dtype = dtype;
    a->rank = rank;
    a->count = count;
    for (size_t i = 0; i < rank; i++) a->shape[i] = shape[i];
    if (count) {
        a->data = malloc(payload);
        if (a->data == NULL) {
            free(a);
            return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for %zu bytes", where, payload);
        }
        memcpy(a->data, b + start + len, payload);
    }
    *out = a;
    return FL_OK;
syntax:
    return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                   "%s: not a readable .npy header (not a dict of descr, fortran_order and shape)", where);
}

fl_status fl_npy_read(const void *data, size_t size, fl_array **out, fl_error *err)
{
    if (out == NULL || (data == NULL && size))
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_npy_read: data and out must not be NULL");
    return fl_npy_parse(data, size, ".npy", out, err);
}

void fl_array_destroy(fl_array *array)
{
    if (array == NULL) return;
    free(array->data);
    free(array);
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((mant & 0x3FFu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

void fl_convert_to_float32(fl_dtype dtype, const void *data, size_t count, float *out)
{
    const uint8_t *src = data;
    for (size_t i = 0; i < count; i++) {
        switch (dtype) {
        case FL_DTYPE_FLOAT32: memcpy(&out[i], src + 4 * i, 4); break;
        case FL_DTYPE_FLOAT64: {
            double d;
            memcpy(&d, src + 8 * i, 8);
            out[i] = (float)d;
            break;
        }
        case FL_DTYPE_FLOAT16: {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            out[i] = half_to_float(h);
            break;
        }
        case FL_DTYPE_UINT8: out[i] = (float)src[i]; break;
        case FL_DTYPE_INT8: out[i] = (float)(int8_t)src[i]; break;
        case FL_DTYPE_INT16: {
            int16_t v;
            memcpy(&v, src + 2 * i, 2);
            out[i] = (float)v;
            break;
        }
        case FL_DTYPE_INT32: {
            int32_t v;
            memcpy(&v, src + 4 * i, 4);
            out[i] = (float)v;
            break;
        }
        }
    }
}

fl_array *fl_array_to_float32(const fl_array *in)
{
    fl_array *a = calloc(1, sizeof *a);
    if (a == NULL) return NULL;
    *a = *in;
    a->dtype = FL_DTYPE_FLOAT32;
    a->data = NULL;
    if (in->count) {
        float *f = malloc(in->count * sizeof *f);
        if (f == NULL) {
            free(a);
            return NULL;
        }
        fl_convert_to_float32(in->dtype, in->data, in->count, f);
        a->data = f;
    }
    return a;
}
