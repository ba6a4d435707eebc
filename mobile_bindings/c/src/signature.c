/* signature.c: Ed25519 bundle signatures checked with libsodium (docs/bundle.md, "Signature").
 *
 * The signed message is rebuilt from the hashes computed here over every member but
 * signature.json, never taken from the file; signature.json's own `signed` block only
 * serves to name the members that changed when the signature fails. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "json.h"
#include "status.h"

#define SIGNATURE_MEMBER "signature.json"

/* The development key's public half (sdk_python/facelite/development_key.pub), compiled in. */
extern const unsigned char fl_development_key_pem[];
extern const size_t fl_development_key_pem_size;

static const uint8_t SPKI_PREFIX[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

void fl_sha256_hex(const uint8_t *data, size_t size, char out[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, data, size);
    sodium_bin2hex(out, 65, digest, sizeof digest);
}

static const char *find(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return hay + i;
    return NULL;
}

fl_status fl_public_key_from_pem(const char *pem, size_t size, fl_public_key *out, fl_error *err)
{
    static const char begin[] = "-----BEGIN PUBLIC KEY-----", end[] = "-----END PUBLIC KEY-----";
    if (pem == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_public_key_from_pem: pem and out must not be NULL");
    if (sodium_init() < 0) return fl_fail(err, FL_ERR_INTERNAL, "libsodium failed to initialise");
    const char *b = find(pem, size, begin);
    const char *e = b ? find(b, size - (size_t)(b - pem), end) : NULL;
    if (b == NULL || e == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "not a PEM public key (no '%s' ... '%s' block); pass the .pub file `facelite-build keygen` "
                       "wrote beside the private key",
                       begin, end);
    b += sizeof begin - 1;
    unsigned char der[64];
    size_t der_len = 0;
    const char *b64_end = NULL;
    if (sodium_base642bin(der, sizeof der, b, (size_t)(e - b), " \t\r\n", &der_len, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64_end != e || der_len != 44 || memcmp(der, SPKI_PREFIX, sizeof SPKI_PREFIX) != 0)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "not an Ed25519 public key (the PEM block is not the 44-byte SubjectPublicKeyInfo of an "
                       "Ed25519 key); facelite bundles are signed with Ed25519 keys");
    memcpy(out->bytes, der + 12, 32);
    return FL_OK;
}

static void key_id(const uint8_t key[32], char out[17])
{
    char hex[65];
    fl_sha256_hex(key, 32, hex);
    memcpy(out, hex, 16);
    out[16] = '\0';
}

static int compare_names(const void *a, const void *b)
{
    return strcmp((*(const fl_zip_member *const *)a)->name, (*(const fl_zip_member *const *)b)->name);
}

/* The canonical signed bytes: {"manifest_sha256":..,"members":{name:sha256,..}}, names in byte order. */
static char *payload(const fl_bundle *b, size_t *len)
{
    const fl_zip_member *sorted[FL_ZIP_MAX_MEMBERS];
    size_t n = 0, cap = 64;
    for (size_t i = 0; i < b->zip.count; i++) {
        if (strcmp(b->zip.members[i].name, SIGNATURE_MEMBER) == 0) continue;
        sorted[n++] = &b->zip.members[i];
        cap += strlen(b->zip.members[i].name) + 72;
    }
    qsort(sorted, n, sizeof sorted[0], compare_names);
    char *text = malloc(cap + 128);
    if (text == NULL) return NULL;
    const fl_zip_member *manifest = fl_zip_find(&b->zip, "manifest.json");
    size_t used = (size_t)sprintf(text, "{\"manifest_sha256\":\"%s\",\"members\":{", b->sha256[manifest - b->zip.members]);
    for (size_t i = 0; i < n; i++)
        used += (size_t)sprintf(text + used, "%s\"%s\":\"%s\"", i ? "," : "", sorted[i]->name,
                                b->sha256[sorted[i] - b->zip.members]);
    used += (size_t)sprintf(text + used, "}}");
    *len = used;
    return text;
}

static fl_status decode_field(const cJSON *doc, const char *field, uint8_t *out, size_t want, const char *where,
                              fl_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, field);
    size_t got = 0;
    const char *end = NULL;
    if (!cJSON_IsString(v) ||
        sodium_base642bin(out, want, v->valuestring, strlen(v->valuestring), NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *end != '\0' || got != want)
        return fl_fail(err, FL_ERR_SIGNATURE, "%s: %s is not %zu base64-encoded bytes", where, field, want);
    return FL_OK;
}

/* "member X differs from the signed bytes (...)" for every change against signed.members, into out. */
static size_t what_changed(const fl_bundle *b, const cJSON *signed_members, char *out, size_t cap)
{
    size_t used = 0, n = 0;
    out[0] = '\0';
#define ADD(...)                                                                                                    \
    do {                                                                                                            \
        if (used + 1 < cap) used += (size_t)snprintf(out + used, cap - used, "%s", n++ ? "; " : "");                \
        if (used + 1 < cap) used += (size_t)snprintf(out + used, cap - used, __VA_ARGS__);                          \
    } while (0)
    for (const cJSON *s = signed_members->child; s; s = s->next) {
        const fl_zip_member *m = fl_zip_find(&b->zip, s->string);
        if (m == NULL || strcmp(s->string, SIGNATURE_MEMBER) == 0)
            ADD("member %s was removed", s->string);
        else if (strcmp(s->valuestring, b->sha256[m - b->zip.members]) != 0)
            ADD("member %s differs from the signed bytes (sha256 %.12s..., signed %.12s...)", s->string,
                b->sha256[m - b->zip.members], s->valuestring);
    }
    for (size_t i = 0; i < b->zip.count; i++) {
        const char *name = b->zip.members[i].name;
        if (strcmp(name, SIGNATURE_MEMBER) != 0 && !cJSON_GetObjectItemCaseSensitive(signed_members, name))
            ADD("member %s was added after signing", name);
    }
#undef ADD
    return n;
}

fl_status fl_signature_check(fl_bundle *b, const fl_bundle_options *options, fl_error *err)
{
    fl_signature_info *info = &b->signature;
    memset(info, 0, sizeof *info);
    info->required = options->signature == FL_SIGNATURE_REQUIRED;
    if (sodium_init() < 0) return fl_fail(err, FL_ERR_INTERNAL, "libsodium failed to initialise");
    const fl_zip_member *sig = fl_zip_find(&b->zip, SIGNATURE_MEMBER);
    if (sig == NULL) {
        if (info->required)
            return fl_fail(err, FL_ERR_SIGNATURE,
                           "%s: is not signed, and a signature is required; sign it with `facelite-build sign BUNDLE "
                           "--key KEY`, or allow unsigned bundles (FL_SIGNATURE_OPTIONAL, the runner's "
                           "--allow-unsigned) to load it unverified",
                           b->path);
        snprintf(b->warning, sizeof b->warning, "%s: is not signed: nothing vouches for its contents", b->path);
        info->warning = b->warning;
        return FL_OK;
    }
    info->is_signed = 1;
    char where[600];
    snprintf(where, sizeof where, "%s:%s", b->path, SIGNATURE_MEMBER);
    cJSON *doc = NULL;
    fl_error inner;
    fl_status st = fl_json_parse(b->data + sig->offset, sig->size, where, &doc, &inner);
    if (st != FL_OK) {
        return fl_fail(err, FL_ERR_SIGNATURE, "signature check failed: %s", inner.message);
    }
    uint8_t key[32], signature[64];
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(doc, "format");
    const cJSON *algorithm = cJSON_GetObjectItemCaseSensitive(doc, "algorithm");
    const cJSON *kid = cJSON_GetObjectItemCaseSensitive(doc, "key_id");
    const cJSON *signed_block = cJSON_GetObjectItemCaseSensitive(doc, "signed");
    const cJSON *signed_members = cJSON_GetObjectItemCaseSensitive(signed_block, "members");
    if (!cJSON_IsObject(doc))
        st = fl_fail(&inner, FL_ERR_SIGNATURE, "%s: is not a JSON object", where);
    else if (!cJSON_IsString(format) || strcmp(format->valuestring, "facelite-signature-v1") != 0 ||
             !cJSON_IsString(algorithm) || strcmp(algorithm->valuestring, "ed25519") != 0)
        st = fl_fail(&inner, FL_ERR_SIGNATURE,
                     "%s: format / algorithm is not facelite-signature-v1 / ed25519; upgrade facelite or re-sign the "
                     "bundle",
                     where);
    else if ((st = decode_field(doc, "public_key", key, 32, where, &inner)) != FL_OK ||
             (st = decode_field(doc, "signature", signature, 64, where, &inner)) != FL_OK)
        ;
    else {
        key_id(key, info->key_id);
        if (!cJSON_IsString(kid) || strcmp(kid->valuestring, info->key_id) != 0)
            st = fl_fail(&inner, FL_ERR_SIGNATURE, "%s: key_id does not name its public_key", where);
    }
    if (st == FL_OK) {
        int ok = cJSON_IsObject(signed_members);
        for (const cJSON *m = ok ? signed_members->child : NULL; m; m = m->next) ok &= cJSON_IsString(m);
        if (!ok)
            st = fl_fail(&inner, FL_ERR_SIGNATURE, "%s: signed.members is not an object of member name to sha256",
                         where);
    }
    if (st != FL_OK) {
        cJSON_Delete(doc);
        info->key_id[0] = '\0';
        return fl_fail(err, FL_ERR_SIGNATURE, "signature check failed: %s", inner.message);
    }
    for (size_t i = 0; i < b->zip.count; i++) {
        const fl_zip_member *m = &b->zip.members[i];
        if (strcmp(m->name, SIGNATURE_MEMBER) != 0) fl_sha256_hex(b->data + m->offset, m->size, b->sha256[i]);
    }
    size_t len = 0;
    char *message = payload(b, &len);
    if (message == NULL) {
        cJSON_Delete(doc);
        return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory checking the signature", b->path);
    }
    int verifies = crypto_sign_verify_detached(signature, (const unsigned char *)message, len, key) == 0;
    free(message);
    if (!verifies) {
        char changes[700];
        if (what_changed(b, signed_members, changes, sizeof changes) == 0)
            snprintf(changes, sizeof changes,
                     "signature does not verify (signature.json was altered, or the bundle re-signed wrongly)");
        cJSON_Delete(doc);
        return fl_fail(err, FL_ERR_SIGNATURE,
                       "%s: signature check failed: %s; the bundle changed after it was signed: rebuild it or "
                       "re-download it",
                       b->path, changes);
    }
    cJSON_Delete(doc);
    info->valid = 1;
    fl_public_key development;
    if (fl_public_key_from_pem((const char *)fl_development_key_pem, fl_development_key_pem_size, &development,
                               &inner) != FL_OK)
        return fl_fail(err, FL_ERR_INTERNAL, "the compiled-in development key does not parse: %s", inner.message);
    info->development_key = memcmp(key, development.bytes, 32) == 0;
    info->trusted = info->development_key && options->trust_development_key;
    for (size_t i = 0; i < options->trusted_key_count && !info->trusted; i++)
        info->trusted = memcmp(key, options->trusted_keys[i].bytes, 32) == 0;
    if (!info->trusted) {
        const char *dev = info->development_key ? " (the facelite development key, which these options distrust)" : "";
        if (info->required)
            return fl_fail(err, FL_ERR_SIGNATURE,
                           "%s: signed by untrusted key %s%s; to trust it, pass its public key in the trusted keys "
                           "(the runner's --trusted-keys)",
                           b->path, info->key_id, dev);
        snprintf(b->warning, sizeof b->warning, "%s: signed by untrusted key %s%s", b->path, info->key_id, dev);
        info->warning = b->warning;
    } else if (info->development_key) {
        snprintf(b->warning, sizeof b->warning,
                 "%s: signed with the facelite development key: not for production; pass your own trusted keys",
                 b->path);
        info->warning = b->warning;
    }
    return FL_OK;
}
