/* test_bundle_manifest: strict JSON, the manifest schema and its cross-field rules, and .npy
 * headers, with the messages facelite's Python readers give (tests/mobile_bindings compares
 * the two readers over many more cases). */
#include "check.h"
#include "json.h"
#include "manifest.h"
#include "npy.h"

static void json_case(const char *text, int ok, const char *needle)
{
    fl_error err = {FL_OK, ""};
    cJSON *doc = NULL;
    fl_status st = fl_json_parse((const uint8_t *)text, strlen(text), "doc", &doc, &err);
    if (ok)
        CHECK_STATUS(st, FL_OK, &err, NULL);
    else
        CHECK_STATUS(st, FL_ERR_BUNDLE_INVALID, &err, needle);
    CHECK(ok || strstr(err.message, text) == NULL || strlen(text) < 3, "message echoes the document");
    cJSON_Delete(doc);
}

static void strict_json(void)
{
    json_case("{\"runs\": 5, \"x\": [1.5, null, true, \"\\u00e9\"]}", 1, NULL);
    json_case(" [] ", 1, NULL);
    json_case("{\"a\": 1, \"a\": 2}", 0, "a: appears twice in one object");
    json_case("{\"job\": {\"runs\": 1e999}}", 0, "job.runs: not a finite number");
    json_case("[NaN]", 0, "is not JSON");
    json_case("[Infinity]", 0, "is not JSON");
    json_case("[01]", 0, "is not JSON");
    json_case("[1.]", 0, "is not JSON");
    json_case("{\"a\":1,}", 0, "is not JSON");
    json_case("[1] x", 0, "extra data");
    json_case("\"a\tb\"", 0, "control character");
    json_case("\"\\u0000\"", 0, "NUL");
    json_case("\"\\x\"", 0, "bad escape");
    json_case("{'a': 1}", 0, "is not JSON");
    json_case("", 0, "is not JSON");
    json_case("\xff\xfe[]", 0, "not UTF-8");
    json_case("[\"\xc0\xaf\"]", 0, "not UTF-8");      /* overlong '/' */
    json_case("[\"\xed\xa0\x80\"]", 0, "not UTF-8");  /* an encoded surrogate */
    char deep[80], ok[80];
    memset(deep, '[', 33), memset(deep + 33, ']', 33), deep[66] = '\0';
    memset(ok, '[', 32), memset(ok + 32, ']', 32), ok[64] = '\0';
    json_case(ok, 1, NULL);
    json_case(deep, 0, "deeper than 32");
    json_case("[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]", 1, NULL); /* brackets in strings do not count */
    CHECK(fl_utf8_length("h\xc3\xa9llo") == 5, "code points");
}

static const char *BASE =
    "{\"schema_version\": 1, \"name\": \"t\", \"version\": \"1\", \"task\": \"classification\","
    " \"labels\": [\"a\", \"b\"],"
    " \"input\": {\"shape\": [1, 32, 32, 3], \"color\": \"rgb\", \"resize\": \"bilinear\","
    "           \"mean\": [127.5, 127.5, 127.5], \"std\": [127.5, 127.5, 127.5]},"
    " \"output\": {\"kind\": \"probabilities\"},"
    " \"variants\": {\"fp32\": {\"file\": \"fp32.tflite\", \"bytes\": 10, \"target\": \"cpu\","
    "   \"input_dtype\": \"float32\", \"sha256\": \"0000000000000000000000000000000000000000000000000000000000000000\"}}}";

/* BASE with `path` (a.b.c, [n] for arrays) set to the JSON `value` (NULL: removed). */
static void manifest_case(const char *path, const char *value, fl_status want, const char *needle)
{
    cJSON *doc = cJSON_Parse(BASE);
    cJSON *node = doc, *parent = NULL;
    char key[64] = "", copy[200];
    snprintf(copy, sizeof copy, "%s", path);
    for (char *save = NULL, *part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
        parent = node;
        snprintf(key, sizeof key, "%s", part);
        node = cJSON_IsArray(parent) ? cJSON_GetArrayItem(parent, atoi(part)) : cJSON_GetObjectItem(parent, part);
        if (node == NULL) break;
    }
    if (cJSON_IsArray(parent)) {
        cJSON_ReplaceItemInArray(parent, atoi(key), cJSON_Parse(value));
    } else if (value == NULL) {
        cJSON_DeleteItemFromObject(parent, key);
    } else if (node) {
        cJSON_ReplaceItemInObject(parent, key, cJSON_Parse(value));
    } else {
        cJSON_AddItemToObject(parent, key, cJSON_Parse(value));
    }
    char *text = cJSON_PrintUnformatted(doc);
    fl_error err = {FL_OK, ""};
    cJSON *checked = NULL;
    fl_status st = fl_manifest_check((const uint8_t *)text, strlen(text), "m.json", &checked, &err);
    CHECK(st == want && mentions(err.message, needle), "%s = %s: got %s (%s), wanted %s with %s", path,
          value ? value : "(removed)", fl_status_name(st), err.message, fl_status_name(want), needle ? needle : "-");
    cJSON_Delete(checked);
    free(text);
    cJSON_Delete(doc);
}

static void schema(void)
{
    manifest_case("name", "\"t\"", FL_OK, NULL);
    manifest_case("input.std.1", "0", FL_ERR_BUNDLE_INVALID, "m.json: input.std[1]: must be > 0, got 0");
    manifest_case("input.shape.1", "20000", FL_ERR_BUNDLE_INVALID, "input.shape[1]: must be <= 2048, got 20000");
    manifest_case("input.shape.0", "2", FL_ERR_BUNDLE_INVALID, "input.shape[0]: must be 1, got 2");
    manifest_case("input.shape.3", "1.5", FL_ERR_BUNDLE_INVALID, "input.shape[3]: must be an integer");
    manifest_case("task", "\"segmentation\"", FL_ERR_BUNDLE_INVALID,
                  "task: \"segmentation\" is not one of classification, landmarks, detection");
    manifest_case("labels", NULL, FL_ERR_BUNDLE_INVALID,
                  "missing required key 'labels' (required when task is \"classification\")");
    manifest_case("labels", "[]", FL_ERR_BUNDLE_INVALID, "labels: must hold at least 1 item, got 0");
    manifest_case("input.crops", "\"face\"", FL_ERR_BUNDLE_INVALID, "input: unknown key 'crops'; did you mean 'crop'?");
    manifest_case("input.zzz", "1", FL_ERR_BUNDLE_INVALID, "input: unknown key 'zzz' (known keys: shape");
    manifest_case("input.zz_dtype", "1", FL_ERR_BUNDLE_INVALID, "input: unknown key 'zz_dtype'; did you mean 'dtype'?");
    manifest_case("output.shape", "{\"ok\": true}", FL_ERR_BUNDLE_INVALID,
                  "output.shape: must be an array, got object {\"ok\": true}");
    manifest_case("variants.fp8", "{}", FL_ERR_BUNDLE_INVALID, "variants: key \"fp8\" is not one of fp32, fp16");
    manifest_case("variants.fp32.sha256", "\"abc\"", FL_ERR_BUNDLE_INVALID,
                  "variants.fp32.sha256: must be at least 64 characters, got 3");
    manifest_case("variants.fp32.file", "\"../x.tflite\"", FL_ERR_BUNDLE_INVALID, "variants.fp32.file: must match");
    manifest_case("name", "\"\"", FL_ERR_BUNDLE_INVALID, "name: must not be empty");
    manifest_case("name", "7", FL_ERR_BUNDLE_INVALID, "name: must be a string, got integer 7");
    manifest_case("schema_version", "2", FL_ERR_UNSUPPORTED, "schema_version 2 is not supported");
    manifest_case("schema_version", "true", FL_ERR_UNSUPPORTED, "schema_version True is not supported");
    manifest_case("schema_version", NULL, FL_ERR_UNSUPPORTED, "schema_version None is not supported");
    manifest_case("input.color", "\"gray\"", FL_ERR_BUNDLE_INVALID,
                  "input.shape[3]: color 'gray' gives 1 channel, got 3");
    manifest_case("input.mean", "[1, 2]", FL_ERR_BUNDLE_INVALID, "input.mean: needs 3 values, one per channel");
    manifest_case("golden", "{\"inputs\": \"golden/inputs.npy\", \"outputs\": \"golden/fp32_outputs.npy\","
                  " \"variant_outputs\": {\"int8\": \"golden/int8_outputs.npy\"}}",
                  FL_ERR_BUNDLE_INVALID, "golden.variant_outputs: names variants the bundle does not hold: ['int8']");
    manifest_case("input", NULL, FL_ERR_BUNDLE_INVALID, "missing required key 'input'");
    manifest_case("input.std", "[0, 0, 1]", FL_ERR_BUNDLE_INVALID,
                  "input.std[0]: must be > 0, got 0 (and 1 more problem)");
    fl_error err;
    cJSON *doc = NULL;
    CHECK_STATUS(fl_manifest_check((const uint8_t *)"[1]", 3, "m.json", &doc, &err), FL_ERR_BUNDLE_INVALID, &err,
                 "m.json: is not a JSON object (got list)");
}

static void npy_case(const char *header, size_t payload, int ok, const char *needle)
{
    uint8_t data[512];
    size_t len = strlen(header);
    memcpy(data, "\x93NUMPY\x01\x00", 8);
    data[8] = (uint8_t)len, data[9] = 0;
    memcpy(data + 10, header, len);
    memset(data + 10 + len, 0, payload);
    fl_array *a = NULL;
    fl_error err = {FL_OK, ""};
    fl_status st = fl_npy_parse(data, 10 + len + payload, "x.npy", &a, &err);
    if (ok)
        CHECK_STATUS(st, FL_OK, &err, NULL);
    else
        CHECK_STATUS(st, FL_ERR_BUNDLE_INVALID, &err, needle);
    fl_array_destroy(a);
}

static void npy(void)
{
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", 24, 1, NULL);
    npy_case("{\"shape\": (4,), \"descr\": \"|u1\", \"fortran_order\": False}", 4, 1, NULL);
    npy_case("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", 8, 1, NULL);
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20, 0, "does not fit");
    npy_case("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8, 0, "never Python objects");
    npy_case("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4, 0, "holds >f4 elements");
    npy_case("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", 4, 0, "Fortran order");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (1), }", 4, 0, "not a readable .npy header");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 4, 0, "not a readable .npy header");
    npy_case("{'descr': '<f4', 'fortran_order': False}", 4, 0, "not a readable .npy header");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4, 0, "unexpected key");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4, 0, "dimensions");
    npy_case("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 9999999999), }", 4, 0,
             "does not fit");
    fl_array *a = NULL;
    fl_error err;
    CHECK_STATUS(fl_npy_read("\x93NUMPY\x03\x00xx", 10, &a, &err), FL_ERR_BUNDLE_INVALID, &err, "version 3.0");
    CHECK_STATUS(fl_npy_read("PK\x03\x04", 4, &a, &err), FL_ERR_BUNDLE_INVALID, &err, "magic");
    uint8_t big[16] = "\x93NUMPY\x01\x00\xff\x7f";
    CHECK_STATUS(fl_npy_read(big, sizeof big, &a, &err), FL_ERR_BUNDLE_INVALID, &err, "more than 4096");
    uint16_t half[3] = {0x3C00, 0xC000, 0x0001}; /* 1, -2, the smallest subnormal */
    float f[3];
    fl_convert_to_float32(FL_DTYPE_FLOAT16, half, 3, f);
    CHECK(f[0] == 1.0f && f[1] == -2.0f && f[2] == 5.9604644775390625e-08f, "half floats %g %g %g", f[0], f[1], f[2]);
}

int main(void)
{
    strict_json();
    schema();
    npy();
    return check_done("test_bundle_manifest");
}
