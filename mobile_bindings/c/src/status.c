/* status.c: status names and error messages (the library never prints: callers do). */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FL_STR2(x) #x
#define FL_STR(x) FL_STR2(x)

const char *fl_version(void)
{
    return FL_STR(FL_VERSION_MAJOR) "." FL_STR(FL_VERSION_MINOR) "." FL_STR(FL_VERSION_PATCH);
}

const char *fl_status_name(fl_status status)
{
    switch (status) {
    case FL_OK: return "ok";
    case FL_ERR_INVALID_ARGUMENT: return "invalid_argument";
    case FL_ERR_IO: return "io";
    case FL_ERR_BUNDLE_INVALID: return "bundle_invalid";
    case FL_ERR_CHECKSUM: return "checksum";
    case FL_ERR_SIGNATURE: return "signature";
    case FL_ERR_UNSUPPORTED: return "unsupported";
    case FL_ERR_IMAGE_INVALID: return "image_invalid";
    case FL_ERR_LITERT: return "litert";
    case FL_ERR_NO_MEMORY: return "no_memory";
    case FL_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}

int fl_status_is_user_error(fl_status status)
{
    return status >= FL_ERR_INVALID_ARGUMENT && status <= FL_ERR_IMAGE_INVALID;
}

fl_status fl_fail(fl_error *err, fl_status code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

fl_status fl_ok(fl_error *err)
{
    if (err != NULL) {
        err->code = FL_OK;
        err->message[0] = '\0';
    }
    return FL_OK;
}

fl_status fl_error_prefix(fl_error *err, fl_status code, const char *prefix)
{
    if (err != NULL) {
        char copy[FL_ERROR_MESSAGE_MAX];
        memcpy(copy, err->message, sizeof copy);
        copy[sizeof copy - 1] = '\0';
        size_t used = (size_t)snprintf(err->message, sizeof err->message, "%.400s: ", prefix);
        size_t room = sizeof err->message - used - 1, n = strlen(copy);
        memcpy(err->message + used, copy, n < room ? n : room);
        err->message[used + (n < room ? n : room)] = '\0';
        err->code = code;
    }
    return code;
}

const char *fl_dtype_name(fl_dtype dtype)
{
    switch (dtype) {
    case FL_DTYPE_FLOAT32: return "float32";
    case FL_DTYPE_INT8: return "int8";
    case FL_DTYPE_UINT8: return "uint8";
    case FL_DTYPE_INT16: return "int16";
    case FL_DTYPE_INT32: return "int32";
    case FL_DTYPE_FLOAT16: return "float16";
    case FL_DTYPE_FLOAT64: return "float64";
    }
    return "unknown";
}

size_t fl_dtype_size(fl_dtype dtype)
{
    switch (dtype) {
    case FL_DTYPE_INT8:
    case FL_DTYPE_UINT8: return 1;
    case FL_DTYPE_INT16:
    case FL_DTYPE_FLOAT16: return 2;
    case FL_DTYPE_FLOAT32:
    case FL_DTYPE_INT32: return 4;
    case FL_DTYPE_FLOAT64: return 8;
    }
    return 0;
}

void fl_printable_bytes(const uint8_t *raw, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (cap == 0)
        return;
    for (size_t i = 0; i < len && n + 4 < cap; i++) {
        unsigned char c = raw[i];
        if (c >= 0x20 && c < 0x7F && c != '\'' && c != '\\') {
            out[n++] = (char)c;
        } else {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
}
