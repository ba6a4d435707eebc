/* test_bundle_signature: the signature policy of docs/bundle.md on the committed fixture
 * (signed with the development key): valid, tampered, unsigned, untrusted, explicitly trusted;
 * and a variant whose bytes changed refused by its sha256 before LiteRT sees it. */
#include "check.h"
#include "zip.h"

static unsigned char *fixture(size_t *size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fixtures/bundles/tiny.flb", repo_root());
    unsigned char *data = slurp(path, size);
    CHECK(data != NULL, "cannot read %s", path);
    return data;
}

static fl_status open_with(const unsigned char *data, size_t size, fl_signature_requirement requirement,
                           int trust_development, const fl_public_key *keys, size_t n_keys, fl_bundle **out,
                           fl_error *err)
{
    fl_bundle_options o;
    fl_bundle_options_init(&o);
    o.signature = requirement;
    o.trust_development_key = trust_development;
    o.trusted_keys = keys;
    o.trusted_key_count = n_keys;
    *out = NULL;
    return fl_bundle_open_buffer(data, size, &o, out, err);
}

/* Rename signature.json (same length) in both headers: the bundle is then unsigned. */
static void unsign(unsigned char *data, size_t size, const fl_zip *zip)
{
    const fl_zip_member *m = fl_zip_find(zip, "signature.json");
    for (size_t p = 0; m && p + 14 <= size; p++)
        if (memcmp(data + p, "signature.json", 14) == 0) memcpy(data + p, "signatureXjson", 14);
}

int main(void)
{
    fl_error err;
    size_t size;
    unsigned char *data = fixture(&size);
    if (data == NULL) return check_done("test_bundle_signature");
    fl_zip zip;
    fl_zip_read(data, size, "tiny", &zip, &err);
    fl_bundle *b;

    /* Signed with the development key, trusted by default with a warning. */
    CHECK_STATUS(open_with(data, size, FL_SIGNATURE_REQUIRED, 1, NULL, 0, &b, &err), FL_OK, &err, NULL);
    const fl_signature_info *s = fl_bundle_signature(b);
    CHECK(s->is_signed && s->valid && s->trusted && s->development_key && s->required, "signature flags");
    CHECK(strcmp(s->key_id, "8cf0cd82b2848afe") == 0, "key id %s", s->key_id);
    CHECK(s->warning && strstr(s->warning, "development key: not for production"), "warning %s", s->warning);
    fl_bundle_destroy(b);

    /* The development key distrusted: refused when required, a warning otherwise. */
    CHECK_STATUS(open_with(data, size, FL_SIGNATURE_REQUIRED, 0, NULL, 0, &b, &err), FL_ERR_SIGNATURE, &err,
                 "signed by untrusted key 8cf0cd82b2848afe (the facelite development key");
    CHECK_STATUS(open_with(data, size, FL_SIGNATURE_OPTIONAL, 0, NULL, 0, &b, &err), FL_OK, &err, NULL);
    CHECK(b && !fl_bundle_signature(b)->trusted && strstr(fl_bundle_signature(b)->warning, "untrusted key"), "untrusted");
    fl_bundle_destroy(b);

    /* ...and trusted again when passed as a key. */
    char pem_path[4096];
    snprintf(pem_path, sizeof pem_path, "%s/sdk_python/facelite/development_key.pub", repo_root());
    size_t pem_size;
    unsigned char *pem = slurp(pem_path, &pem_size);
    fl_public_key key;
    CHECK_STATUS(fl_public_key_from_pem((const char *)pem, pem_size, &key, &err), FL_OK, &err, NULL);
    CHECK_STATUS(open_with(data, size, FL_SIGNATURE_REQUIRED, 0, &key, 1, &b, &err), FL_OK, &err, NULL);
    CHECK(b && fl_bundle_signature(b)->trusted, "an explicitly trusted key");
    fl_bundle_destroy(b);
    free(pem);
    CHECK_STATUS(fl_public_key_from_pem("hello", 5, &key, &err), FL_ERR_INVALID_ARGUMENT, &err, "not a PEM public key");
    static const char rsa[] = "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAK==\n-----END PUBLIC KEY-----\n";
    CHECK_STATUS(fl_public_key_from_pem(rsa, sizeof rsa - 1, &key, &err), FL_ERR_INVALID_ARGUMENT, &err, "Ed25519");

    /* A byte of a variant changed: the signature names the member, required or not. */
    const fl_zip_member *int8 = fl_zip_find(&zip, "int8.tflite");
    data[int8->offset + int8->size / 2] ^= 0xFF;
    CHECK_STATUS(open_with(data, size, FL_SIGNATURE_REQUIRED, 1, NULL, 0, &b, &err), FL_ERR_SIGNATURE, &err,
                 "member int8.tflite differs from the signed bytes");
    CHECK_STATUS(open_with(data, size, FL_SIGNATURE_OPTIONAL, 1, NULL, 0, &b, &err), FL_ERR_SIGNATURE, &err,
                 "the bundle changed after it was signed");

    /* Unsigned: refused when required; when not, it opens and the variant's sha256 refuses it. */
    unsign(data, size, &zip);
    CHECK_STATUS(open_with(data, size, FL_SIGNATURE_REQUIRED, 1, NULL, 0, &b, &err), FL_ERR_SIGNATURE, &err,
                 "is not signed, and a signature is required");
    CHECK_STATUS(open_with(data, size, FL_SIGNATURE_OPTIONAL, 1, NULL, 0, &b, &err), FL_OK, &err, NULL);
    if (b) {
        CHECK(!fl_bundle_signature(b)->is_signed && strstr(fl_bundle_signature(b)->warning, "is not signed"),
              "unsigned warning");
        fl_model *m = NULL;
        CHECK_STATUS(fl_model_create(b, "int8", FL_ACCELERATOR_CPU, 1, &m, &err), FL_ERR_CHECKSUM, &err,
                     "variant 'int8' (member int8.tflite) fails its sha256 check");
        CHECK(m == NULL, "a refused model left a handle");
        CHECK_STATUS(fl_model_create(b, "fp32", FL_ACCELERATOR_CPU, 1, &m, &err), FL_OK, &err, NULL);
        fl_model_destroy(m);
    }
    fl_bundle_destroy(b);

    /* signature.json itself altered (still valid JSON): "signature does not verify". */
    free(data);
    data = fixture(&size);
    const fl_zip_member *sig = fl_zip_find(&zip, "signature.json");
    unsigned char *text = data + sig->offset;
    unsigned char *field = NULL;
    for (size_t p = 0; p + 13 < sig->size && field == NULL; p++)
        if (memcmp(text + p, "\"signature\": ", 13) == 0) field = text + p + 14;
    CHECK(field != NULL, "no signature field");
    if (field) field[0] = field[0] == 'A' ? 'B' : 'A';
    CHECK_STATUS(open_with(data, size, FL_SIGNATURE_OPTIONAL, 1, NULL, 0, &b, &err), FL_ERR_SIGNATURE, &err,
                 "signature does not verify");
    free(data);
    return check_done("test_bundle_signature");
}
