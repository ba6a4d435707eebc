/* schema.c: a JSON Schema subset validator (see schema.h). */
#include "schema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "status.h"

/* The schema files, compiled in by CMake (cmake/embed.cmake). */
extern const unsigned char fl_manifest_schema_v1[];
extern const size_t fl_manifest_schema_v1_size;

static const char *const KEYWORDS[] = {
    "$schema", "$id", "$comment", "$defs", "$ref", "title", "description", "type", "const", "enum", "minimum",
    "maximum", "exclusiveMinimum", "minLength", "maxLength", "pattern", "prefixItems", "items", "minItems",
    "maxItems", "required", "properties", "additionalProperties", "propertyNames", "minProperties", "allOf", "if",
    "then", NULL};

#define MESSAGE_MAX 768

typedef struct ctx {
    const cJSON *root;
    size_t count;
    char first[MESSAGE_MAX];
    char unsupported[512]; /* set: the schema is beyond this validator */
} ctx;

static void add(ctx *c, const char *path, const char *fmt, ...) FL_PRINTF(3, 4);
static void add(ctx *c, const char *path, const char *fmt, ...)
{
    if (c->count++ == 0) {
        size_t used = path[0] ? (size_t)snprintf(c->first, sizeof c->first, "%.300s: ", path) : 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->first + used, sizeof c->first - used, fmt, ap);
        va_end(ap);
    }
}

static void check(const cJSON *value, const cJSON *schema, const char *path, ctx *c);

/* `value` as Python's json.dumps writes it (", " and ": " between items), cut to 40
 * characters as facelite.schema's _show does. */
static void show(const cJSON *value, char *out, size_t cap)
{
    char *text = cJSON_PrintUnformatted(value);
    if (text == NULL) {
        snprintf(out, cap, "?");
        return;
    }
    char spaced[64];
    size_t n = 0;
    int in_string = 0;
    for (const char *p = text; *p && n < 44; p++) {
        spaced[n++] = *p;
        if (in_string && *p == '\\' && p[1]) {
            spaced[n++] = *++p;
        } else if (*p == '"') {
            in_string = !in_string;
        } else if (!in_string && (*p == ',' || *p == ':')) {
            spaced[n++] = ' ';
        }
    }
    spaced[n] = '\0';
    free(text);
    if (n > 40)
        snprintf(out, cap, "%.37s...", spaced);
    else
        snprintf(out, cap, "%s", spaced);
}

static const char *json_type(const cJSON *v)
{
    if (cJSON_IsNull(v)) return "null";
    if (cJSON_IsBool(v)) return "boolean";
    if (cJSON_IsNumber(v)) return v->valuedouble == floor(v->valuedouble) ? "integer" : "number";
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsObject(v)) return "object";
    return "other";
}

static int is_type(const cJSON *v, const char *kind)
{
    if (strcmp(kind, "number") == 0) return cJSON_IsNumber(v);
    if (strcmp(kind, "integer") == 0) return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble);
    if (strcmp(kind, "string") == 0) return cJSON_IsString(v);
    if (strcmp(kind, "boolean") == 0) return cJSON_IsBool(v);
    if (strcmp(kind, "null") == 0) return cJSON_IsNull(v);
    if (strcmp(kind, "array") == 0) return cJSON_IsArray(v);
    if (strcmp(kind, "object") == 0) return cJSON_IsObject(v);
    return 0;
}

/* JSON equality: 1 == 1.0, but true is not 1. */
static int equal(const cJSON *a, const cJSON *b)
{
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) return a->valuedouble == b->valuedouble;
    if (cJSON_IsBool(a) || cJSON_IsBool(b)) return cJSON_IsBool(a) && cJSON_IsBool(b) && cJSON_IsTrue(a) == cJSON_IsTrue(b);
    return cJSON_Compare(a, b, 1);
}

static void number_text(double v, char *out, size_t cap)
{
    snprintf(out, cap, "%.15g", v);
}

static const cJSON *resolve(const char *ref, ctx *c)
{
    if (strncmp(ref, "#/", 2) != 0) {
        snprintf(c->unsupported, sizeof c->unsupported, "schema $ref '%.200s' is not local (#/...)", ref);
        return NULL;
    }
    const cJSON *node = c->root;
    char part[128];
    const char *p = ref + 2;
    while (*p && node != NULL) {
        size_t n = strcspn(p, "/");
        if (n >= sizeof part) return NULL;
        memcpy(part, p, n);
        part[n] = '\0';
        node = cJSON_GetObjectItemCaseSensitive(node, part);
        p += n + (p[n] == '/');
    }
    if (node == NULL)
        snprintf(c->unsupported, sizeof c->unsupported, "schema $ref '%.200s' names nothing in the root schema", ref);
    return node;
}

/* Errors of `value` against `schema` in a fresh context (for `if` and `propertyNames`). */
static size_t sub_check(const cJSON *value, const cJSON *schema, ctx *parent, char *first, size_t cap)
{
    ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(parent->unsupported, sizeof parent->unsupported, "out of memory");
        return 0;
    }
    c->root = parent->root;
    check(value, schema, "", c);
    if (c->unsupported[0] && !parent->unsupported[0])
        memcpy(parent->unsupported, c->unsupported, sizeof c->unsupported);
    size_t n = c->count;
    if (first != NULL) snprintf(first, cap, "%s", c->first);
    free(c);
    return n;
}

static void check_number(const cJSON *value, const cJSON *schema, const char *path, ctx *c)
{
    double v = value->valuedouble;
    char a[40], b[40];
    const cJSON *k;
    number_text(v, b, sizeof b);
    if ((k = cJSON_GetObjectItemCaseSensitive(schema, "minimum")) && !(v >= k->valuedouble)) {
        number_text(k->valuedouble, a, sizeof a);
        add(c, path, "must be >= %s, got %s", a, b);
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(schema, "exclusiveMinimum")) && !(v > k->valuedouble)) {
        number_text(k->valuedouble, a, sizeof a);
        add(c, path, "must be > %s, got %s", a, b);
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(schema, "maximum")) && !(v <= k->valuedouble)) {
        number_text(k->valuedouble, a, sizeof a);
        add(c, path, "must be <= %s, got %s", a, b);
    }
}

static void check_string(const cJSON *value, const cJSON *schema, const char *path, ctx *c)
{
    const char *s = value->valuestring;
    size_t len = fl_utf8_length(s);
    const cJSON *low = cJSON_GetObjectItemCaseSensitive(schema, "minLength");
    const cJSON *high = cJSON_GetObjectItemCaseSensitive(schema, "maxLength");
    const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(schema, "pattern");
    if (low && (double)len < low->valuedouble) {
        if (low->valuedouble == 1)
            add(c, path, "must not be empty");
        else
            add(c, path, "must be at least %.0f characters, got %zu", low->valuedouble, len);
    }
    if (high && (double)len > high->valuedouble) {
        add(c, path, "must be at most %.0f characters, got %zu", high->valuedouble, len);
    } else if (cJSON_IsString(pattern)) {
        regex_t re;
        if (regcomp(&re, pattern->valuestring, REG_EXTENDED | REG_NOSUB) != 0) {
            snprintf(c->unsupported, sizeof c->unsupported, "schema pattern '%.200s' is not a POSIX extended regex",
                     pattern->valuestring);
            return;
        }
        int miss = regexec(&re, s, 0, NULL, 0) != 0;
        regfree(&re);
        if (miss) {
            char shown[64];
            show(value, shown, sizeof shown);
            add(c, path, "must match %s, got %s", pattern->valuestring, shown);
        }
    }
}

static void check_array(const cJSON *value, const cJSON *schema, const char *path, ctx *c)
{
    size_t n = (size_t)cJSON_GetArraySize(value);
    const cJSON *low = cJSON_GetObjectItemCaseSensitive(schema, "minItems");
    const cJSON *high = cJSON_GetObjectItemCaseSensitive(schema, "maxItems");
    if (low && high && low->valuedouble == high->valuedouble && (double)n != low->valuedouble)
        add(c, path, "must hold exactly %.0f items, got %zu", low->valuedouble, n);
    else if (low && (double)n < low->valuedouble)
        add(c, path, "must hold at least %.0f item%s, got %zu", low->valuedouble, low->valuedouble == 1 ? "" : "s", n);
    else if (high && (double)n > high->valuedouble)
        add(c, path, "must hold at most %.0f items, got %zu", high->valuedouble, n);
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(schema, "prefixItems");
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
    size_t n_prefix = prefix ? (size_t)cJSON_GetArraySize(prefix) : 0;
    const cJSON *part = prefix ? prefix->child : NULL;
    long i = 0;
    char where[512];
    for (const cJSON *item = value->child; item; item = item->next, i++) {
        fl_json_path(where, sizeof where, path, NULL, i);
        if ((size_t)i < n_prefix) {
            check(item, part, where, c);
            part = part->next;
        } else if (items) {
            check(item, items, where, c);
        }
    }
}

/* Matching characters of a and b by difflib.SequenceMatcher's rule: the longest common block
 * (earliest in a, then in b), then the same on each side of it. */
static size_t matches(const char *a, size_t alo, size_t ahi, const char *b, size_t blo, size_t bhi)
{
    size_t best_i = alo, best_j = blo, best_k = 0;
    for (size_t i = alo; i < ahi; i++)
        for (size_t j = blo; j < bhi; j++) {
            size_t k = 0;
            while (i + k < ahi && j + k < bhi && a[i + k] == b[j + k]) k++;
            if (k > best_k) best_i = i, best_j = j, best_k = k;
        }
    if (best_k == 0) return 0;
    return best_k + matches(a, alo, best_i, b, blo, best_j) +
           matches(a, best_i + best_k, ahi, b, best_j + best_k, bhi);
}

/* The known key difflib.get_close_matches(key, known, n=1) suggests (ratio >= 0.6), or NULL. */
static const char *close_match(const char *key, const cJSON *known)
{
    const char *best = NULL;
    double best_ratio = 0.0;
    size_t n = strlen(key);
    if (n > 64) return NULL; /* bounded work; the schema's keys are short */
    for (const cJSON *k = known ? known->child : NULL; k; k = k->next) {
        size_t m = strlen(k->string);
        if (m > 64 || n + m == 0) continue;
        double ratio = 2.0 * (double)matches(k->string, 0, m, key, 0, n) / (double)(n + m);
        if (ratio >= 0.6 && (ratio > best_ratio || (ratio == best_ratio && strcmp(k->string, best) > 0))) {
            best_ratio = ratio;
            best = k->string;
        }
    }
    return best;
}

static void check_object(const cJSON *value, const cJSON *schema, const char *path, ctx *c)
{
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(schema, "required");
    for (const cJSON *r = required ? required->child : NULL; r; r = r->next)
        if (cJSON_IsString(r) && !cJSON_GetObjectItemCaseSensitive(value, r->valuestring))
            add(c, path, "missing required key '%s'", r->valuestring);
    const cJSON *min_props = cJSON_GetObjectItemCaseSensitive(schema, "minProperties");
    if (min_props && (double)cJSON_GetArraySize(value) < min_props->valuedouble)
        add(c, path, "must name at least %.0f entr%s", min_props->valuedouble, min_props->valuedouble == 1 ? "y" : "ies");
    const cJSON *known = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(schema, "propertyNames");
    char where[512];
    for (const cJSON *item = value->child; item; item = item->next) {
        if (names) {
            cJSON *key = cJSON_CreateString(item->string);
            char first[MESSAGE_MAX];
            size_t n = key ? sub_check(key, names, c, first, sizeof first) : 0;
            cJSON_Delete(key);
            if (n) {
                add(c, path, "key %s", first);
                continue;
            }
        }
        const cJSON *sub = known ? cJSON_GetObjectItemCaseSensitive(known, item->string) : NULL;
        fl_json_path(where, sizeof where, path, item->string, 0);
        if (sub) {
            check(item, sub, where, c);
        } else if (cJSON_IsFalse(extra)) {
            const char *hint = c->count == 0 ? close_match(item->string, known) : NULL; /* only the first is shown */
            if (hint) {
                add(c, path, "unknown key '%.100s'; did you mean '%s'?", item->string, hint);
            } else {
                char list[400] = "";
                size_t used = 0;
                for (const cJSON *k = known ? known->child : NULL; k && used + 1 < sizeof list; k = k->next)
                    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", k->string);
                add(c, path, "unknown key '%.100s' (known keys: %s)", item->string, list);
            }
        } else if (cJSON_IsObject(extra)) {
            check(item, extra, where, c);
        }
    }
}

/* A short English reading of an `if` schema ("task is \"classification\""). */
static void condition(const cJSON *schema, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
    for (const cJSON *p = props ? props->child : NULL; p; p = p->next) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(p, "const");
        if (!k || used + 1 >= cap) continue;
        char shown[64];
        show(k, shown, sizeof shown);
        used += (size_t)snprintf(out + used, cap - used, "%s%s is %s", used ? " and " : "", p->string, shown);
    }
    if (!used) snprintf(out, cap, "the schema's condition holds");
}

static void check(const cJSON *value, const cJSON *schema, const char *path, ctx *c)
{
    if (c->unsupported[0] || schema == NULL) return;
    for (const cJSON *k = schema->child; k; k = k->next) {
        int known = 0;
        for (size_t i = 0; KEYWORDS[i]; i++) known |= strcmp(k->string, KEYWORDS[i]) == 0;
        if (!known) {
            snprintf(c->unsupported, sizeof c->unsupported,
                     "the schema at '%.200s' uses keyword '%.60s', which the C validator does not implement",
                     path[0] ? path : "(root)", k->string);
            return;
        }
    }
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(schema, "$ref");
    if (cJSON_IsString(ref)) {
        const cJSON *target = resolve(ref->valuestring, c);
        if (target == NULL) return;
        check(value, target, path, c);
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(schema, "type");
    if (type) {
        int ok = 0;
        char wanted[128] = "";
        size_t used = 0;
        const cJSON *kinds = cJSON_IsArray(type) ? type->child : type;
        for (const cJSON *k = kinds; k; k = cJSON_IsArray(type) ? k->next : NULL) {
            if (!cJSON_IsString(k)) continue;
            ok |= is_type(value, k->valuestring);
            const char *article = strcmp(k->valuestring, "integer") == 0   ? "an integer"
                                  : strcmp(k->valuestring, "object") == 0  ? "an object"
                                  : strcmp(k->valuestring, "array") == 0   ? "an array"
                                                                           : NULL;
            if (used + 1 < sizeof wanted) {
                if (article)
                    used += (size_t)snprintf(wanted + used, sizeof wanted - used, "%s%s", used ? " or " : "", article);
                else
                    used += (size_t)snprintf(wanted + used, sizeof wanted - used, "%sa %s", used ? " or " : "",
                                             k->valuestring);
            }
        }
        if (!ok) {
            char shown[64];
            show(value, shown, sizeof shown);
            add(c, path, "must be %s, got %s %s", wanted, json_type(value), shown);
            return;
        }
    }
    const cJSON *konst = cJSON_GetObjectItemCaseSensitive(schema, "const");
    if (konst && !equal(value, konst)) {
        char want[64], got[64];
        show(konst, want, sizeof want);
        show(value, got, sizeof got);
        add(c, path, "must be %s, got %s", want, got);
        return;
    }
    const cJSON *choices = cJSON_GetObjectItemCaseSensitive(schema, "enum");
    if (choices) {
        int found = 0;
        for (const cJSON *e = choices->child; e && !found; e = e->next) found = equal(value, e);
        if (!found) {
            char list[400] = "", got[64];
            size_t used = 0;
            for (const cJSON *e = choices->child; e && used + 1 < sizeof list; e = e->next) {
                char item[64];
                if (cJSON_IsString(e))
                    snprintf(item, sizeof item, "%s", e->valuestring);
                else
                    show(e, item, sizeof item);
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", item);
            }
            show(value, got, sizeof got);
            add(c, path, "%s is not one of %s", got, list);
            return;
        }
    }
    if (cJSON_IsNumber(value))
        check_number(value, schema, path, c);
    else if (cJSON_IsString(value))
        check_string(value, schema, path, c);
    else if (cJSON_IsArray(value))
        check_array(value, schema, path, c);
    else if (cJSON_IsObject(value))
        check_object(value, schema, path, c);
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(schema, "allOf");
    for (const cJSON *part = all ? all->child : NULL; part; part = part->next) check(value, part, path, c);
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(schema, "if");
    if (cond && sub_check(value, cond, c, NULL, 0) == 0) {
        const cJSON *then = cJSON_GetObjectItemCaseSensitive(schema, "then");
        if (then) {
            char first[MESSAGE_MAX], because[256];
            size_t n = sub_check(value, then, c, first, sizeof first);
            if (n) {
                condition(cond, because, sizeof because);
                add(c, path, "%s (required when %s)", first, because);
                c->count += n - 1;
            }
        }
    }
}

fl_status fl_schema_check(const cJSON *instance, const cJSON *schema, size_t *problems, char *first, size_t cap,
                          fl_error *err)
{
    ctx *c = calloc(1, sizeof *c);
    if (c == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory validating a manifest");
    c->root = schema;
    check(instance, schema, "", c);
    fl_status st = FL_OK;
    if (c->unsupported[0]) {
        st = fl_fail(err, FL_ERR_UNSUPPORTED, "%s; upgrade facelite's C core", c->unsupported);
    } else {
        *problems = c->count;
        snprintf(first, cap, "%s", c->first);
    }
    free(c);
    return st;
}

fl_status fl_manifest_schema(int version, cJSON **out, fl_error *err)
{
    *out = NULL;
    if (version != 1)
        return fl_fail(err, FL_ERR_UNSUPPORTED, "no manifest schema for schema_version %d in this build", version);
    *out = cJSON_ParseWithLength((const char *)fl_manifest_schema_v1, fl_manifest_schema_v1_size);
    if (*out == NULL) return fl_fail(err, FL_ERR_INTERNAL, "the compiled-in manifest schema does not parse");
    return FL_OK;
}
