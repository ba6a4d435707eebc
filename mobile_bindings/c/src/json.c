/* json.c: strict JSON (see json.h). */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

int fl_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1Fu; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0Fu; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07u; min = 0x10000; }
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += len;
    }
    return 1;
}

size_t fl_utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static int is_identifier(const char *key)
{
    if (!((*key >= 'A' && *key <= 'Z') || (*key >= 'a' && *key <= 'z') || *key == '_')) return 0;
    for (const char *p = key + 1; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return 0;
    return 1;
}

void fl_json_path(char *out, size_t cap, const char *parent, const char *key, long index)
{
    if (key == NULL)
        snprintf(out, cap, "%s[%ld]", parent, index);
    else if (!is_identifier(key))
        snprintf(out, cap, "%s[\"%.60s\"]", parent, key);
    else if (parent[0])
        snprintf(out, cap, "%s.%s", parent, key);
    else
        snprintf(out, cap, "%s", key);
}

/* -- the grammar check ----------------------------------------------------------------------- */

typedef struct scan {
    const uint8_t *p, *end;
    int depth;
    const char *problem;
} scan;

static void skip_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

static int hexdigit(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int scan_value(scan *s);

static int scan_string(scan *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        uint8_t c = *s->p;
        if (c == '"') {
            s->p++;
            return 1;
        }
        if (c < 0x20) {
            s->problem = "a control character inside a string";
            return 0;
        }
        if (c == '\\') {
            if (s->end - s->p < 2) break;
            uint8_t e = s->p[1];
            if (e == 'u') {
                if (s->end - s->p < 6 || !hexdigit(s->p[2]) || !hexdigit(s->p[3]) || !hexdigit(s->p[4]) ||
                    !hexdigit(s->p[5])) {
                    s->problem = "a bad \\u escape";
                    return 0;
                }
                if (memcmp(s->p + 2, "0000", 4) == 0) {
                    s->problem = "a \\u0000 escape (facelite's readers refuse NUL characters in strings)";
                    return 0;
                }
                s->p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == 0) {
                s->problem = "a bad escape in a string";
                return 0;
            }
            s->p += 2;
            continue;
        }
        s->p++;
    }
    s->problem = "an unterminated string";
    return 0;
}

static int scan_digits(scan *s)
{
    const uint8_t *start = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') s->p++;
    return s->p > start;
}

static int scan_number(scan *s)
{
    if (*s->p == '-') s->p++;
    if (s->p < s->end && *s->p == '0') {
        s->p++;
    } else if (!(s->p < s->end && *s->p >= '1' && *s->p <= '9') || !scan_digits(s)) {
        s->problem = "a malformed number";
        return 0;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!scan_digits(s)) {
            s->problem = "a malformed number";
            return 0;
        }
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) s->p++;
        if (!scan_digits(s)) {
            s->problem = "a malformed number";
            return 0;
        }
    }
    if (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || *s->p == '.' || *s->p == 'e' || *s->p == 'E')) {
        s->problem = "a malformed number (leading zero?)";
        return 0;
    }
    return 1;
}

static int scan_literal(scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) {
        s->problem = "an unexpected character (NaN, Infinity and comments are not JSON)";
        return 0;
    }
    s->p += n;
    return 1;
}

static int scan_container(scan *s, uint8_t close)
{
    if (++s->depth > FL_JSON_MAX_DEPTH) {
        s->problem = "nesting deeper than 32 levels";
        return 0;
    }
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return 1;
    }
    for (;;) {
        skip_ws(s);
        if (close == '}') {
            if (s->p >= s->end || *s->p != '"') {
                s->problem = "an object key that is not a string";
                return 0;
            }
            if (!scan_string(s)) return 0;
            skip_ws(s);
            if (s->p >= s->end || *s->p != ':') {
                s->problem = "a missing ':' after an object key";
                return 0;
            }
            s->p++;
        }
        if (!scan_value(s)) return 0;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            s->depth--;
            return 1;
        }
        s->problem = close == '}' ? "a missing ',' or '}' in an object" : "a missing ',' or ']' in an array";
        return 0;
    }
}

static int scan_value(scan *s)
{
    skip_ws(s);
    if (s->p >= s->end) {
        s->problem = "the text ends where a value should be";
        return 0;
    }
    switch (*s->p) {
    case '{': return scan_container(s, '}');
    case '[': return scan_container(s, ']');
    case '"': return scan_string(s);
    case 't': return scan_literal(s, "true");
    case 'f': return scan_literal(s, "false");
    case 'n': return scan_literal(s, "null");
    default:
        if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) return scan_number(s);
        s->problem = "an unexpected character (NaN, Infinity and comments are not JSON)";
        return 0;
    }
}

/* -- checks on the tree ----------------------------------------------------------------------- */

static int compare_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 0 when `node` and below are finite and free of repeated keys; else 1 with `why` set. */
static int check_tree(const cJSON *node, const char *path, char *why, size_t cap)
{
    if (cJSON_IsNumber(node) && !isfinite(node->valuedouble)) {
        snprintf(why, cap, "%s: not a finite number (NaN, Infinity and overflowing values like 1e999 are not JSON)",
                 path[0] ? path : "(root)");
        return 1;
    }
    if (cJSON_IsObject(node)) {
        size_t n = 0;
        for (const cJSON *c = node->child; c; c = c->next) n++;
        if (n > 1) {
            const char **keys = malloc(n * sizeof *keys);
            if (keys == NULL) {
                snprintf(why, cap, "out of memory");
                return 1;
            }
            size_t i = 0;
            for (const cJSON *c = node->child; c; c = c->next) keys[i++] = c->string;
            qsort(keys, n, sizeof *keys, compare_keys);
            for (i = 1; i < n; i++) {
                if (strcmp(keys[i - 1], keys[i]) == 0) {
                    char where[512];
                    fl_json_path(where, sizeof where, path, keys[i], 0);
                    snprintf(why, cap, "%s: appears twice in one object; give each key once", where);
                    free(keys);
                    return 1;
                }
            }
            free(keys);
        }
    }
    long index = 0;
    for (const cJSON *c = node->child; c; c = c->next, index++) {
        char where[512];
        fl_json_path(where, sizeof where, path, cJSON_IsObject(node) ? c->string : NULL, index);
        if (check_tree(c, where, why, cap)) return 1;
    }
    return 0;
}

fl_status fl_json_parse(const uint8_t *data, size_t size, const char *where, cJSON **out, fl_error *err)
{
    *out = NULL;
    if (!fl_utf8_valid(data, size))
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: unreadable JSON (is not UTF-8 text; send UTF-8 JSON)", where);
    scan s = {data, data + size, 0, NULL};
    if (!scan_value(&s)) {
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: unreadable JSON (is not JSON: %s at byte %zu)", where,
                       s.problem, (size_t)(s.p - data));
    }
    skip_ws(&s);
    if (s.p != s.end)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: unreadable JSON (is not JSON: extra data at byte %zu)", where,
                       (size_t)(s.p - data));
    cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
    if (doc == NULL) /* the grammar passed: cJSON's own limits (numbers of 64+ characters) or memory */
        return fl_fail(err, FL_ERR_BUNDLE_INVALID,
                       "%s: unreadable JSON (cJSON refused it: a number written with 64 or more characters?)", where);
    char why[768];
    if (check_tree(doc, "", why, sizeof why)) {
        cJSON_Delete(doc);
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: unreadable JSON (%s)", where, why);
    }
    *out = doc;
    return FL_OK;
}
