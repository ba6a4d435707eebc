/* test_engine: variants running in LiteRT through fl_model: tensor facts (the LiteRT layouts
 * read right), int8 quantization, goldens reproduced, accelerator fallback with a reason, the
 * model keeping its bundle alive, and argument errors. */
#include <math.h>

#include "check.h"

static fl_bundle *open_fixture(const char *name)
{
    char path[4096];
    fl_error err;
    fl_bundle *b = NULL;
    snprintf(path, sizeof path, "%s/tests/fixtures/bundles/%s", repo_root(), name);
    CHECK_STATUS(fl_bundle_open(path, NULL, &b, &err), FL_OK, &err, NULL);
    return b;
}

/* The variant's outputs on every golden tensor against its golden outputs (fp32 ones when it has none). */
static double golden_error(fl_bundle *b, fl_model *m, const char *variant)
{
    fl_error err;
    fl_array *x = NULL, *y = NULL;
    CHECK_STATUS(fl_bundle_golden_tensors(b, &x, &err), FL_OK, &err, NULL);
    CHECK_STATUS(fl_bundle_golden_outputs(b, variant, &y, &err), FL_OK, &err, NULL);
    if (y == NULL) CHECK_STATUS(fl_bundle_golden_outputs(b, "fp32", &y, &err), FL_OK, &err, NULL);
    if (x == NULL || y == NULL) return INFINITY;
    size_t n = (size_t)x->shape[0], sample = x->count / n, row = y->count / n;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        CHECK_STATUS(fl_model_run(m, (const float *)x->data + i * sample, sample, &err), FL_OK, &err, NULL);
        size_t at = 0;
        for (size_t k = 0; k < fl_model_output_count(m) && at < row; k++) {
            size_t count;
            const float *out = fl_model_output(m, k, &count);
            for (size_t j = 0; j < count && at < row; j++, at++)
                worst = fmax(worst, fabs((double)out[j] - ((const float *)y->data)[i * row + at]));
        }
    }
    fl_array_destroy(x);
    fl_array_destroy(y);
    return worst;
}

static void tiny(void)
{
    fl_error err;
    fl_bundle *b = open_fixture("tiny.flb");
    if (b == NULL) return;
    fl_model *m = NULL;
    CHECK_STATUS(fl_model_create(b, "int8", FL_ACCELERATOR_CPU, 2, &m, &err), FL_OK, &err, NULL);
    fl_bundle_destroy(b); /* the model keeps the bundle alive */
    if (m == NULL) return;
    const fl_model_info *info = fl_model_get_info(m);
    CHECK(strcmp(info->variant, "int8") == 0 && info->accelerator == FL_ACCELERATOR_CPU && !info->fallback_reason,
          "info %s %d", info->variant, info->accelerator);
    CHECK(info->threads == 2 && info->init_ms > 0, "threads %d init %g", info->threads, info->init_ms);
    fl_tensor_info in, out;
    CHECK_STATUS(fl_model_input_info(m, 0, &in, &err), FL_OK, &err, NULL);
    CHECK(in.rank == 4 && in.shape[0] == 1 && in.shape[1] == 32 && in.shape[2] == 32 && in.shape[3] == 3 &&
              in.count == 3072,
          "input shape %zu: %d %d %d %d", in.rank, in.shape[0], in.shape[1], in.shape[2], in.shape[3]);
    CHECK(in.dtype == FL_DTYPE_INT8 && in.quantized && in.scale > 0.0078f && in.scale < 0.0079f && in.zero_point == 0,
          "input quantization %s %g %lld", fl_dtype_name(in.dtype), in.scale, (long long)in.zero_point);
    CHECK_STATUS(fl_model_output_info(m, 0, &out, &err), FL_OK, &err, NULL);
    CHECK(out.count == 4 && out.dtype == FL_DTYPE_INT8 && out.scale == 0.00390625f && out.zero_point == -128,
          "output %zu %s %g %lld", out.count, fl_dtype_name(out.dtype), out.scale, (long long)out.zero_point);
    CHECK(strstr(in.name, "input") != NULL, "input name %s", in.name);
    CHECK_STATUS(fl_model_output_info(m, 1, &out, &err), FL_ERR_INVALID_ARGUMENT, &err, "no output 1");
    float x[3072];
    memset(x, 0, sizeof x);
    CHECK_STATUS(fl_model_run(m, x, 3071, &err), FL_ERR_INVALID_ARGUMENT, &err, "does not match the model's 3072");
    CHECK_STATUS(fl_model_run(m, x, 3072, &err), FL_OK, &err, NULL);
    size_t n;
    const float *y = fl_model_output(m, 0, &n);
    CHECK(y != NULL && n == 4, "output");
    for (size_t i = 0; y && i < n; i++) /* dequantized int8: a multiple of the scale above the zero point */
        CHECK(fabsf(y[i] / 0.00390625f - nearbyintf(y[i] / 0.00390625f)) < 1e-3f, "y[%zu] = %g", i, y[i]);
    CHECK(fl_model_output(m, 1, &n) == NULL, "output 1 of 1");
    fl_model_destroy(m);
}

static void goldens(const char *name)
{
    fl_error err;
    fl_bundle *b = open_fixture(name);
    if (b == NULL) return;
    for (size_t i = 0; i < fl_bundle_variant_count(b); i++) {
        fl_variant_info v;
        fl_bundle_variant_at(b, i, &v, &err);
        fl_model *m = NULL;
        CHECK_STATUS(fl_model_create(b, v.name, FL_ACCELERATOR_CPU, 1, &m, &err), FL_OK, &err, NULL);
        if (m == NULL) continue;
        double tol = strcmp(v.name, "fp32") == 0 ? 1e-4 : 0.25; /* facelite.verify's (legacy for int8) */
        double e = golden_error(b, m, v.name);
        CHECK(e <= tol, "%s %s: max |err| %g > %g", name, v.name, e, tol);
        fl_model_destroy(m);
    }
    fl_bundle_destroy(b);
}

static void accelerators(void)
{
    fl_error err;
    fl_bundle *b = open_fixture("tiny.flb");
    if (b == NULL) return;
    CHECK(strcmp(fl_bundle_choose_variant(b, FL_ACCELERATOR_CPU), "fp32") == 0, "cpu choice");
    fl_model *m = NULL;
    /* No GPU runtime here: the CPU runs it and says why (a GPU host may run it: then no reason). */
    CHECK_STATUS(fl_model_create(b, "fp32", FL_ACCELERATOR_GPU, 1, &m, &err), FL_OK, &err, NULL);
    if (m) {
        const fl_model_info *info = fl_model_get_info(m);
        CHECK(info->accelerator_requested == FL_ACCELERATOR_GPU, "requested");
        CHECK(info->accelerator == FL_ACCELERATOR_GPU ||
                  (info->fallback_reason && strstr(info->fallback_reason, "gpu: ") == info->fallback_reason),
              "fallback reason %s", info->fallback_reason ? info->fallback_reason : "(none)");
    }
    fl_model_destroy(m);
    m = NULL;
    CHECK_STATUS(fl_model_create(b, "int8", FL_ACCELERATOR_NPU, 1, &m, &err), FL_OK, &err, NULL);
    if (m) CHECK(fl_model_get_info(m)->accelerator == FL_ACCELERATOR_NPU || fl_model_get_info(m)->fallback_reason,
                 "npu fallback");
    fl_model_destroy(m);
    m = NULL;
    CHECK_STATUS(fl_model_create(b, NULL, FL_ACCELERATOR_AUTO, 0, &m, &err), FL_OK, &err, NULL);
    if (m) CHECK(fl_model_get_info(m)->variant != NULL, "auto variant");
    /* auto probes no GPU where the host shows no GPU device node, and says so */
    if (m && !fl_accelerator_present(FL_ACCELERATOR_GPU))
        CHECK(fl_model_get_info(m)->fallback_reason && strstr(fl_model_get_info(m)->fallback_reason,
                                                              "gpu: no GPU device on this host (none of "),
              "auto skips the absent GPU: %s", fl_model_get_info(m)->fallback_reason);
    CHECK(fl_accelerator_present(FL_ACCELERATOR_CPU), "the CPU is always present");
    fl_model_destroy(m);
    m = NULL;
    CHECK_STATUS(fl_model_create(b, "fp8", FL_ACCELERATOR_CPU, 1, &m, &err), FL_ERR_INVALID_ARGUMENT, &err,
                 "no variant 'fp8'; this bundle has fp32, int8");
    CHECK_STATUS(fl_model_create(b, "fp32", FL_ACCELERATOR_CPU, -1, &m, &err), FL_ERR_INVALID_ARGUMENT, &err, "threads");
    CHECK_STATUS(fl_model_create(NULL, "fp32", FL_ACCELERATOR_CPU, 1, &m, &err), FL_ERR_INVALID_ARGUMENT, &err, NULL);
    fl_accelerator a;
    CHECK_STATUS(fl_accelerator_parse("tpu", &a, &err), FL_ERR_INVALID_ARGUMENT, &err, "auto, cpu, gpu, npu");
    CHECK_STATUS(fl_accelerator_parse("npu", &a, &err), FL_OK, &err, NULL);
    CHECK(a == FL_ACCELERATOR_NPU, "parsed npu");
    fl_bundle_destroy(b);
}

static void detector_outputs(void)
{
    fl_error err;
    fl_bundle *b = open_fixture("face_detector.flb");
    fl_model *m = NULL;
    if (b) CHECK_STATUS(fl_model_create(b, "fp32", FL_ACCELERATOR_CPU, 1, &m, &err), FL_OK, &err, NULL);
    if (m) { /* the Python Engine's order: the subgraph's outputs */
        fl_tensor_info o0, o1;
        fl_model_output_info(m, 0, &o0, NULL);
        fl_model_output_info(m, 1, &o1, NULL);
        CHECK(fl_model_output_count(m) == 2 && o0.shape[3] == 2 && o1.shape[3] == 1, "outputs %s %s", o0.name, o1.name);
        CHECK(strcmp(o0.name, "StatefulPartitionedCall:1") == 0, "output 0 is %s", o0.name);
    }
    fl_model_destroy(m);
    fl_bundle_destroy(b);
}

int main(void)
{
    tiny();
    goldens("tiny.flb");
    goldens("expression.flb");
    goldens("landmarks.flb");
    goldens("face_detector.flb");
    accelerators();
    detector_outputs();
    return check_done("test_engine");
}
