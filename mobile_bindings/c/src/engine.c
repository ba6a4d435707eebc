/* engine.c: one bundle variant running in LiteRT (the C twin of facelite.engine.Engine).
 *
 * The only file of libfacelite that calls LiteRT. What it does the Python Engine's way:
 * the variant for an accelerator (fl_bundle_choose_variant), GPU/NPU tried only with a
 * variant the build marked compatible and only when fully accelerated, otherwise the CPU
 * with the reason kept; int8 inputs quantized and outputs dequantized from the tensors'
 * own parameters (docs/preprocessing.md step 6, facelite/preprocess.h). Pixels in
 * (`fl_model_set_pixels`, `fl_model_run_image`, the twin of `Engine.run_pixels`): steps
 * 5-6 are written straight into the input buffer through a 256-entry table per channel
 * made by fl_normalize (+ fl_quantize for an integer input) themselves, so bit-identical
 * and without a division per value. The variant's
 * bytes are sha256-checked, then handed to LiteRT from the bundle's mapping; the model
 * holds a reference on the bundle so that mapping outlives it. Inputs and outputs live
 * in 64-byte-aligned host buffers of our own that LiteRT reads and writes in place. */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <glob.h>
#endif

#include "bundle.h"
#include "facelite/preprocess.h"
#include "litert.h"
#include "npy.h"
#include "status.h"

#define MAX_TENSORS 16

typedef struct tensor {
    fl_tensor_info info;
    fl_litert_tensor_type type;
    void *host;
    size_t bytes;
    LiteRtTensorBuffer buffer;
    float *floats; /* dequantized copy of an integer output */
} tensor;

typedef struct runtime {
    LiteRtEnvironment env;
    LiteRtModel model;
    LiteRtOptions options;
    LiteRtCompiledModel compiled;
} runtime;

struct fl_model {
    fl_bundle *bundle;
    runtime rt;
    fl_model_info info;
    char fallback[1024];
    size_t n_inputs, n_outputs;
    tensor inputs[MAX_TENSORS], outputs[MAX_TENSORS];
    size_t output_slot[MAX_TENSORS]; /* outputs[k] is the signature's output output_slot[k] */
    LiteRtTensorBuffer input_buffers[MAX_TENSORS], output_buffers[MAX_TENSORS];
    int dequantized; /* floats of the last invoke are up to date */
    uint8_t *pixels; /* fl_model_run_image's steps 1-4, one input's worth */
    int table_channels; /* channels of `table` (0: none built yet), for table_mean/table_std */
    float table_mean[FL_MAX_INPUT_CHANNELS], table_std[FL_MAX_INPUT_CHANNELS];
    int32_t table[FL_MAX_INPUT_CHANNELS][256]; /* steps 5-6 of pixel value v in channel c */
    float normalized[FL_MAX_INPUT_CHANNELS][256]; /* step 5 of pixel value v in channel c (float inputs) */
};

const char *fl_accelerator_name(fl_accelerator a)
{
    switch (a) {
    case FL_ACCELERATOR_AUTO: return "auto";
    case FL_ACCELERATOR_CPU: return "cpu";
    case FL_ACCELERATOR_GPU: return "gpu";
    case FL_ACCELERATOR_NPU: return "npu";
    }
    return "unknown";
}

fl_status fl_accelerator_parse(const char *name, fl_accelerator *out, fl_error *err)
{
    static const fl_accelerator all[] = {FL_ACCELERATOR_AUTO, FL_ACCELERATOR_CPU, FL_ACCELERATOR_GPU,
                                         FL_ACCELERATOR_NPU};
    for (size_t i = 0; name != NULL && i < 4; i++) {
        if (strcmp(name, fl_accelerator_name(all[i])) == 0) {
            *out = all[i];
            return fl_ok(err);
        }
    }
    return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "accelerator '%.40s' is not one of auto, cpu, gpu, npu",
                   name ? name : "(null)");
}

/* facelite.engine.DEVICE_NODES: the device nodes through which LiteRT's GPU delegates and
 * NPU dispatch libraries reach hardware on Linux and Android. */
static const char *const GPU_NODES[] = {"/dev/dri/renderD*", "/dev/kgsl-3d0", "/dev/mali*", "/dev/nvidia*", NULL};
static const char *const NPU_NODES[] = {"/dev/accel/accel*", "/dev/fastrpc-*", "/dev/adsprpc-smd", "/dev/apusys",
                                        "/dev/edgetpu*", "/dev/apex_*", NULL};

static int any_node(const char *const *patterns)
{
#if defined(__linux__)
    for (size_t i = 0; patterns[i]; i++) {
        glob_t g;
        int found = glob(patterns[i], 0, NULL, &g) == 0 && g.gl_pathc > 0;
        globfree(&g);
        if (found) return 1;
    }
    return 0;
#else
    (void)patterns;
    return 1; /* no device nodes to look for: probe */
#endif
}

int fl_accelerator_present(fl_accelerator accelerator)
{
    static atomic_int cached[4]; /* 0: not looked yet, 1: absent, 2: present (once per process) */
    if (accelerator != FL_ACCELERATOR_GPU && accelerator != FL_ACCELERATOR_NPU) return 1;
    const char *force = getenv("FACELITE_PROBE_ACCELERATORS");
    if (force && force[0]) return 1;
    int known = atomic_load(&cached[accelerator]);
    if (known) return known == 2;
    int present = any_node(accelerator == FL_ACCELERATOR_GPU ? GPU_NODES : NPU_NODES);
    atomic_store(&cached[accelerator], present ? 2 : 1);
    return present;
}

/* The reason `auto` skips an accelerator with no device (facelite.engine.accelerator_present). */
static void absent_reason(fl_accelerator accelerator, char *out, size_t cap)
{
    const char *const *nodes = accelerator == FL_ACCELERATOR_GPU ? GPU_NODES : NPU_NODES;
    size_t used = (size_t)snprintf(out, cap, "no %s device on this host (none of ",
                                   accelerator == FL_ACCELERATOR_GPU ? "GPU" : "NPU");
    for (size_t i = 0; nodes[i] && used + 1 < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", nodes[i]);
    if (used + 1 < cap) snprintf(out + used, cap - used, ")");
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void release_runtime(runtime *rt)
{
    if (rt->compiled) LiteRtDestroyCompiledModel(rt->compiled);
    if (rt->options) LiteRtDestroyOptions(rt->options);
    if (rt->model) LiteRtDestroyModel(rt->model);
    if (rt->env) LiteRtDestroyEnvironment(rt->env);
    memset(rt, 0, sizeof *rt);
}

/* LiteRT's CPU options: the "xnnpack" opaque options, a TOML payload (litert_cpu_options.cc). */
static LiteRtStatus add_cpu_threads(LiteRtOptions options, int threads)
{
    char *toml = malloc(48);
    if (toml == NULL) return -1;
    snprintf(toml, 48, "num_threads = %d\n", threads);
    LiteRtOpaqueOptions cpu = NULL;
    LiteRtStatus st = LiteRtCreateOpaqueOptions("xnnpack", toml, free, &cpu);
    if (st != kLiteRtStatusOk) {
        free(toml);
        return st;
    }
    return LiteRtAddOpaqueOptions(options, cpu); /* the options own it from here */
}

/* Create environment, model and compiled model for `bytes` on `accelerator`. Returns FL_OK,
 * or an error whose message is the reason (for a fallback or for the caller). */
static fl_status compile(const uint8_t *bytes, size_t size, fl_accelerator accelerator, int threads,
                         const char *where, runtime *rt, fl_error *err)
{
    LiteRtStatus st;
    memset(rt, 0, sizeof *rt);
    if ((st = LiteRtCreateEnvironment(0, NULL, &rt->env)) != kLiteRtStatusOk)
        return fl_fail(err, FL_ERR_LITERT, "LiteRT could not create its environment (status %d)", st);
    if ((st = LiteRtCreateModelFromBuffer(rt->env, bytes, size, &rt->model)) != kLiteRtStatusOk) {
        release_runtime(rt);
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s does not load in LiteRT (status %d); rebuild the bundle", where,
                       st);
    }
    LiteRtHwAcceleratorSet hw = accelerator == FL_ACCELERATOR_GPU   ? kLiteRtHwAcceleratorGpu
                                : accelerator == FL_ACCELERATOR_NPU ? kLiteRtHwAcceleratorNpu
                                                                    : kLiteRtHwAcceleratorCpu;
    if ((st = LiteRtCreateOptions(&rt->options)) != kLiteRtStatusOk ||
        (st = LiteRtSetOptionsHardwareAccelerators(rt->options, hw)) != kLiteRtStatusOk ||
        (accelerator == FL_ACCELERATOR_CPU && threads > 0 && (st = add_cpu_threads(rt->options, threads)) != kLiteRtStatusOk)) {
        release_runtime(rt);
        return fl_fail(err, FL_ERR_LITERT, "LiteRT refused the compilation options (status %d)", st);
    }
    if ((st = LiteRtCreateCompiledModel(rt->env, rt->model, rt->options, &rt->compiled)) != kLiteRtStatusOk) {
        release_runtime(rt);
        if (accelerator != FL_ACCELERATOR_CPU)
            return fl_fail(err, FL_ERR_UNSUPPORTED, "%s not available on this host (LiteRT status %d)",
                           accelerator == FL_ACCELERATOR_GPU ? "GPU" : "NPU", st);
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s does not compile in LiteRT (status %d); rebuild the bundle",
                       where, st);
    }
    if (accelerator != FL_ACCELERATOR_CPU) {
        bool full = false;
        if (LiteRtCompiledModelIsFullyAccelerated(rt->compiled, &full) != kLiteRtStatusOk || !full) {
            release_runtime(rt);
            return fl_fail(err, FL_ERR_UNSUPPORTED, "%s is only partly accelerated on the %s", where,
                           accelerator == FL_ACCELERATOR_GPU ? "GPU" : "NPU");
        }
    }
    return FL_OK;
}

static fl_status dtype_of(int element_type, fl_dtype *out)
{
    switch (element_type) {
    case kLiteRtElementTypeFloat32: *out = FL_DTYPE_FLOAT32; return FL_OK;
    case kLiteRtElementTypeInt8: *out = FL_DTYPE_INT8; return FL_OK;
    case kLiteRtElementTypeUInt8: *out = FL_DTYPE_UINT8; return FL_OK;
    case kLiteRtElementTypeInt16: *out = FL_DTYPE_INT16; return FL_OK;
    case kLiteRtElementTypeInt32: *out = FL_DTYPE_INT32; return FL_OK;
    case kLiteRtElementTypeFloat16: *out = FL_DTYPE_FLOAT16; return FL_OK;
    case kLiteRtElementTypeFloat64: *out = FL_DTYPE_FLOAT64; return FL_OK;
    }
    return FL_ERR_UNSUPPORTED;
}

/* Read a signature tensor's name, type and quantization, and give it a host buffer. */
static fl_status bind_tensor(LiteRtTensor t, const char *where, const char *role, size_t index, tensor *out,
                             fl_error *err)
{
    int type_id = -1, q_type = kLiteRtQuantizationNone;
    const char *name = NULL;
    if (LiteRtGetTensorName(t, &name) != kLiteRtStatusOk) name = "";
    out->info.name = name;
    if (LiteRtGetTensorTypeId(t, &type_id) != kLiteRtStatusOk || type_id != kLiteRtRankedTensorType ||
        LiteRtGetRankedTensorType(t, &out->type) != kLiteRtStatusOk)
        return fl_fail(err, FL_ERR_UNSUPPORTED, "%s: %s %zu ('%s') has no fixed rank; facelite runs ranked tensors",
                       where, role, index, name);
    if (dtype_of(out->type.element_type, &out->info.dtype) != FL_OK)
        return fl_fail(err, FL_ERR_UNSUPPORTED, "%s: %s %zu ('%s') has LiteRT element type %d, which facelite does not "
                       "run", where, role, index, name, out->type.element_type);
    out->info.rank = out->type.layout.rank;
    out->info.count = 1;
    if (out->info.rank > FL_MAX_RANK)
        return fl_fail(err, FL_ERR_UNSUPPORTED, "%s: %s %zu ('%s') has %zu dimensions", where, role, index, name,
                       out->info.rank);
    for (size_t d = 0; d < out->info.rank; d++) {
        int32_t n = out->type.layout.dimensions[d];
        if (n < 1 || out->info.count > (SIZE_MAX / 8) / (size_t)n)
            return fl_fail(err, FL_ERR_UNSUPPORTED, "%s: %s %zu ('%s') has a dynamic or oversized dimension (%d)",
                           where, role, index, name, (int)n);
        out->info.shape[d] = n;
        out->info.count *= (size_t)n;
    }
    if (LiteRtGetQuantizationTypeId(t, &q_type) == kLiteRtStatusOk && q_type == kLiteRtQuantizationPerTensor) {
        fl_litert_quantization q;
        if (LiteRtGetPerTensorQuantization(t, &q) == kLiteRtStatusOk && q.scale != 0.0f) {
            out->info.quantized = 1;
            out->info.scale = q.scale;
            out->info.zero_point = q.zero_point;
        }
    } else if (q_type != kLiteRtQuantizationNone) {
        return fl_fail(err, FL_ERR_UNSUPPORTED, "%s: %s %zu ('%s') is quantized per channel; facelite runs per-tensor "
                       "quantized inputs and outputs", where, role, index, name);
    }
    if (out->info.dtype != FL_DTYPE_FLOAT32 && !out->info.quantized && !strcmp(role, "input"))
        return fl_fail(err, FL_ERR_UNSUPPORTED, "%s: input %zu ('%s') is %s without quantization parameters; facelite "
                       "feeds float32 or quantized inputs", where, index, name, fl_dtype_name(out->info.dtype));
    out->bytes = out->info.count * fl_dtype_size(out->info.dtype);
    size_t padded = (out->bytes + FL_LITERT_HOST_ALIGNMENT - 1) / FL_LITERT_HOST_ALIGNMENT * FL_LITERT_HOST_ALIGNMENT;
    out->host = aligned_alloc(FL_LITERT_HOST_ALIGNMENT, padded);
    if (out->host == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for %s %zu", where, role, index);
    memset(out->host, 0, padded);
    LiteRtStatus st = LiteRtCreateTensorBufferFromHostMemory(&out->type, out->host, out->bytes, NULL, &out->buffer);
    if (st != kLiteRtStatusOk)
        return fl_fail(err, FL_ERR_LITERT, "%s: LiteRT refused a host buffer for %s %zu (status %d)", where, role,
                       index, st);
    if (out->info.dtype != FL_DTYPE_FLOAT32) {
        out->floats = malloc(out->info.count * sizeof(float));
        if (out->floats == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "%s: out of memory for %s %zu", where, role, index);
    }
    return FL_OK;
}

static void free_tensor(tensor *t)
{
    if (t->buffer) LiteRtDestroyTensorBuffer(t->buffer);
    free(t->host);
    free(t->floats);
    memset(t, 0, sizeof *t);
}

static void shape_text(const int32_t *dims, size_t rank, char *out, size_t cap)
{
    size_t used = (size_t)snprintf(out, cap, "(");
    for (size_t d = 0; d < rank && used + 1 < cap; d++)
        used += (size_t)snprintf(out + used, cap - used, "%s%d", d ? ", " : "", (int)dims[d]);
    if (used + 1 < cap) snprintf(out + used, cap - used, ")");
}

/* The output shapes LiteRT computes once its tensors are allocated must be the declared ones:
 * a model whose shapes change there (a reshape target edited, say) would make LiteRT write
 * past the buffers sized from the declaration, so it is refused as a damaged model. */
static fl_status check_output_shapes(fl_model *m, const char *where, fl_error *err)
{
    fl_litert_layout layouts[MAX_TENSORS];
    memset(layouts, 0, sizeof layouts);
    LiteRtStatus st = LiteRtGetCompiledModelOutputTensorLayouts(m->rt.compiled, 0, m->n_outputs, layouts, true);
    if (st != kLiteRtStatusOk)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: LiteRT cannot allocate the model's outputs (status %d); rebuild "
                       "the bundle", where, st);
    for (size_t k = 0; k < m->n_outputs; k++) {
        const fl_tensor_info *info = &m->outputs[k].info;
        const fl_litert_layout *got = &layouts[m->output_slot[k]];
        int same = got->rank == info->rank;
        for (size_t d = 0; same && d < info->rank; d++) same = got->dimensions[d] == info->shape[d];
        if (!same) {
            char declared[128], computed[128];
            shape_text(info->shape, info->rank, declared, sizeof declared);
            shape_text(got->dimensions, got->rank > FL_LITERT_MAX_RANK ? FL_LITERT_MAX_RANK : got->rank, computed,
                       sizeof computed);
            return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: output %zu ('%s') is declared %s but LiteRT computes %s; the "
                           "model is damaged: rebuild the bundle", where, k, info->name, declared, computed);
        }
    }
    return FL_OK;
}

/* Inputs in signature order; outputs in the subgraph's order, as the Python Engine lists them. */
static fl_status bind_tensors(fl_model *m, const char *where, fl_error *err)
{
    LiteRtParamIndex n_sig = 0, n_in = 0, n_out = 0, n_sub = 0;
    LiteRtSignature sig = NULL;
    LiteRtSubgraph sub = NULL;
    if (LiteRtGetNumModelSignatures(m->rt.model, &n_sig) != kLiteRtStatusOk || n_sig < 1 ||
        LiteRtGetModelSignature(m->rt.model, 0, &sig) != kLiteRtStatusOk ||
        LiteRtGetNumSignatureInputs(sig, &n_in) != kLiteRtStatusOk ||
        LiteRtGetNumSignatureOutputs(sig, &n_out) != kLiteRtStatusOk)
        return fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: LiteRT finds no signature in the model; rebuild the bundle", where);
    if (n_in < 1 || n_out < 1 || n_in > MAX_TENSORS || n_out > MAX_TENSORS)
        return fl_fail(err, FL_ERR_UNSUPPORTED, "%s: the model has %zu inputs and %zu outputs; facelite runs 1 to %d "
                       "of each", where, n_in, n_out, MAX_TENSORS);
    fl_status st;
    for (size_t i = 0; i < n_in; i++) {
        LiteRtTensor t;
        if (LiteRtGetSignatureInputTensorByIndex(sig, i, &t) != kLiteRtStatusOk)
            return fl_fail(err, FL_ERR_LITERT, "%s: LiteRT cannot list input %zu", where, i);
        if ((st = bind_tensor(t, where, "input", i, &m->inputs[i], err)) != FL_OK) return st;
        m->input_buffers[i] = m->inputs[i].buffer;
        m->n_inputs++;
    }
    LiteRtTensor sig_out[MAX_TENSORS];
    for (size_t i = 0; i < n_out; i++)
        if (LiteRtGetSignatureOutputTensorByIndex(sig, i, &sig_out[i]) != kLiteRtStatusOk)
            return fl_fail(err, FL_ERR_LITERT, "%s: LiteRT cannot list output %zu", where, i);
    int by_subgraph = LiteRtGetSignatureSubgraph(sig, &sub) == kLiteRtStatusOk &&
                      LiteRtGetNumSubgraphOutputs(sub, &n_sub) == kLiteRtStatusOk && n_sub == n_out;
    for (size_t k = 0; k < n_out; k++) {
        size_t slot = k;
        LiteRtTensor t = NULL;
        if (by_subgraph && LiteRtGetSubgraphOutput(sub, k, &t) == kLiteRtStatusOk)
            for (size_t i = 0; i < n_out; i++)
                if (sig_out[i] == t) slot = i;
        m->output_slot[k] = slot;
        if ((st = bind_tensor(sig_out[slot], where, "output", k, &m->outputs[k], err)) != FL_OK) return st;
        m->output_buffers[slot] = m->outputs[k].buffer;
        m->n_outputs++;
    }
    for (size_t i = 0; i < n_out; i++)
        if (m->output_buffers[i] == NULL)
            return fl_fail(err, FL_ERR_UNSUPPORTED, "%s: the model's signature and subgraph list different outputs",
                           where);
    return check_output_shapes(m, where, err);
}

static void append_reason(fl_model *m, const char *accelerator, const char *reason)
{
    size_t used = strlen(m->fallback);
    snprintf(m->fallback + used, sizeof m->fallback - used, "%s%s: %s", used ? "; " : "", accelerator, reason);
}

static int marked_compatible(const fl_variant_entry *e, fl_accelerator a)
{
    return a == FL_ACCELERATOR_CPU || (a == FL_ACCELERATOR_GPU ? e->gpu_ok : e->npu_ok);
}

fl_status fl_model_create(fl_bundle *bundle, const char *variant, fl_accelerator accelerator, int threads,
                          fl_model **out, fl_error *err)
{
    if (out == NULL) return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_model_create: out must not be NULL");
    *out = NULL;
    if (bundle == NULL) return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_model_create: bundle must not be NULL");
    if (accelerator < FL_ACCELERATOR_AUTO || accelerator > FL_ACCELERATOR_NPU)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_model_create: accelerator %d is not an fl_accelerator",
                       (int)accelerator);
    if (threads < 0)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "threads must be 0 (LiteRT decides) or more, got %d", threads);
    double t0 = now_ms();
    const fl_manifest *man = &bundle->manifest;
    if (variant != NULL && strcmp(variant, "auto") == 0) variant = NULL;
    if (variant != NULL) {
        fl_variant_info info;
        fl_status st = fl_bundle_variant(bundle, variant, &info, err);
        if (st != FL_OK) return st;
    }
    fl_model *m = calloc(1, sizeof *m);
    if (m == NULL) return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory creating a model");
    fl_bundle_retain(bundle);
    m->bundle = bundle;
    m->info.accelerator_requested = accelerator;
    m->info.threads = threads;
    static const fl_accelerator auto_order[] = {FL_ACCELERATOR_NPU, FL_ACCELERATOR_GPU};
    fl_accelerator tries[2];
    size_t n_tries = 0;
    if (accelerator == FL_ACCELERATOR_AUTO) {
        tries[0] = auto_order[0];
        tries[1] = auto_order[1];
        n_tries = 2;
    } else if (accelerator != FL_ACCELERATOR_CPU) {
        tries[n_tries++] = accelerator;
    }
    const fl_variant_entry *chosen = NULL;
    char where[700];
    fl_status st = FL_OK;
    for (size_t i = 0; i < n_tries && chosen == NULL; i++) {
        const char *acc = fl_accelerator_name(tries[i]);
        if (accelerator == FL_ACCELERATOR_AUTO && !fl_accelerator_present(tries[i])) {
            char why[256];
            absent_reason(tries[i], why, sizeof why);
            append_reason(m, acc, why);
            continue;
        }
        const char *name = variant ? variant : fl_bundle_choose_variant(bundle, tries[i]);
        if (name == NULL) {
            append_reason(m, acc, "no variant in the bundle is marked compatible");
            continue;
        }
        const fl_variant_entry *e = fl_manifest_variant(man, name);
        if (!marked_compatible(e, tries[i])) {
            char why[128];
            snprintf(why, sizeof why, "variant '%s' is not marked compatible by the build", name);
            append_reason(m, acc, why);
            continue;
        }
        const uint8_t *bytes;
        size_t size;
        if ((st = fl_bundle_variant_bytes(bundle, e, &bytes, &size, err)) != FL_OK) goto fail;
        snprintf(where, sizeof where, "%s: variant '%s'", bundle->path, name);
        fl_error why;
        if (compile(bytes, size, tries[i], threads, where, &m->rt, &why) == FL_OK) {
            chosen = e;
            m->info.accelerator = tries[i];
        } else {
            append_reason(m, acc, why.message);
        }
    }
    if (chosen == NULL) {
        const char *name = variant ? variant : fl_bundle_choose_variant(bundle, FL_ACCELERATOR_CPU);
        chosen = fl_manifest_variant(man, name);
        const uint8_t *bytes;
        size_t size;
        if ((st = fl_bundle_variant_bytes(bundle, chosen, &bytes, &size, err)) != FL_OK) goto fail;
        snprintf(where, sizeof where, "%s: variant '%s'", bundle->path, name);
        if ((st = compile(bytes, size, FL_ACCELERATOR_CPU, threads, where, &m->rt, err)) != FL_OK) goto fail;
        m->info.accelerator = FL_ACCELERATOR_CPU;
    }
    m->info.variant = chosen->name;
    m->info.fallback_reason =
        m->fallback[0] && m->info.accelerator == FL_ACCELERATOR_CPU && accelerator != FL_ACCELERATOR_CPU ? m->fallback
                                                                                                         : NULL;
    if ((st = bind_tensors(m, where, err)) != FL_OK) goto fail;
    if (m->inputs[0].info.dtype != chosen->input_dtype) { /* as facelite verify checks */
        st = fl_fail(err, FL_ERR_BUNDLE_INVALID, "%s: manifest says input %s, model takes %s; rebuild the bundle", where,
                     fl_dtype_name(chosen->input_dtype), fl_dtype_name(m->inputs[0].info.dtype));
        goto fail;
    }
    m->info.init_ms = now_ms() - t0;
    *out = m;
    return fl_ok(err);
fail:
    fl_model_destroy(m);
    return st;
}

void fl_model_destroy(fl_model *m)
{
    if (m == NULL) return;
    for (size_t i = 0; i < MAX_TENSORS; i++) {
        free_tensor(&m->inputs[i]);
        free_tensor(&m->outputs[i]);
    }
    release_runtime(&m->rt);
    fl_bundle_destroy(m->bundle);
    free(m->pixels);
    free(m);
}

const fl_model_info *fl_model_get_info(const fl_model *m) { return m ? &m->info : NULL; }
size_t fl_model_input_count(const fl_model *m) { return m ? m->n_inputs : 0; }
size_t fl_model_output_count(const fl_model *m) { return m ? m->n_outputs : 0; }

static fl_status tensor_info(const fl_model *m, size_t index, size_t n, const tensor *list, const char *role,
                             fl_tensor_info *out, fl_error *err)
{
    if (m == NULL || out == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_model_%s_info: model and out must not be NULL", role);
    if (index >= n)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "no %s %zu: the model has %zu", role, index, n);
    *out = list[index].info;
    return fl_ok(err);
}

fl_status fl_model_input_info(const fl_model *m, size_t index, fl_tensor_info *out, fl_error *err)
{
    return tensor_info(m, index, m ? m->n_inputs : 0, m ? m->inputs : NULL, "input", out, err);
}

fl_status fl_model_output_info(const fl_model *m, size_t index, fl_tensor_info *out, fl_error *err)
{
    return tensor_info(m, index, m ? m->n_outputs : 0, m ? m->outputs : NULL, "output", out, err);
}

fl_status fl_model_set_input(fl_model *m, const float *input, size_t count, fl_error *err)
{
    if (m == NULL || input == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_model_set_input: model and input must not be NULL");
    tensor *t = &m->inputs[0];
    if (count != t->info.count)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "input of %zu values does not match the model's %zu (one float32 NHWC sample of %s)", count,
                       t->info.count, t->info.name);
    if (t->info.dtype == FL_DTYPE_FLOAT32) {
        memcpy(t->host, input, count * sizeof(float));
        return fl_ok(err);
    }
    return fl_quantize(input, count, t->info.scale, t->info.zero_point, t->info.dtype, t->host, err);
}

/* The input's table for `spec` (kept while the spec's mean and std stay the same): the 256
 * pixel values of every channel through fl_normalize, and for an integer input fl_quantize. */
static fl_status input_table(fl_model *m, const fl_input_spec *spec, fl_error *err)
{
    const tensor *t = &m->inputs[0];
    const int ch = spec->channels;
    if (m->table_channels == ch && !memcmp(m->table_mean, spec->mean, (size_t)ch * sizeof(float)) &&
        !memcmp(m->table_std, spec->std, (size_t)ch * sizeof(float)))
        return FL_OK;
    uint8_t levels[256 * FL_MAX_INPUT_CHANNELS];
    float x[256 * FL_MAX_INPUT_CHANNELS];
    int32_t q[256 * FL_MAX_INPUT_CHANNELS]; /* room for the widest integer input */
    for (int v = 0; v < 256; v++)
        for (int c = 0; c < ch; c++) levels[v * ch + c] = (uint8_t)v;
    const size_t n = 256 * (size_t)ch;
    fl_status st = fl_normalize(levels, 256, spec, x, err);
    if (st != FL_OK) return st;
    for (size_t i = 0; i < n; i++) m->normalized[i % (size_t)ch][i / (size_t)ch] = x[i];
    if (t->info.dtype != FL_DTYPE_FLOAT32 &&
        (st = fl_quantize(x, n, t->info.scale, t->info.zero_point, t->info.dtype, q, err)) != FL_OK)
        return st;
    for (size_t i = 0; t->info.dtype != FL_DTYPE_FLOAT32 && i < n; i++) {
        int32_t v;
        switch (t->info.dtype) {
        case FL_DTYPE_INT8: v = ((const int8_t *)q)[i]; break;
        case FL_DTYPE_UINT8: v = ((const uint8_t *)q)[i]; break;
        case FL_DTYPE_INT16: v = ((const int16_t *)q)[i]; break;
        default: v = q[i]; break;
        }
        m->table[i % (size_t)ch][i / (size_t)ch] = v;
    }
    memcpy(m->table_mean, spec->mean, (size_t)ch * sizeof(float));
    memcpy(m->table_std, spec->std, (size_t)ch * sizeof(float));
    m->table_channels = ch;
    return FL_OK;
}

#define LOOK_UP(type)                                                                                              \
    do {                                                                                                           \
        type *o = t->host;                                                                                         \
        for (size_t i = 0; i < count; i += ch)                                                                     \
            for (size_t c = 0; c < ch; c++) o[i + c] = (type)m->table[c][pixels[i + c]];                           \
    } while (0)

fl_status fl_model_set_pixels(fl_model *m, const uint8_t *pixels, size_t count, const fl_input_spec *spec,
                              fl_error *err)
{
    if (m == NULL || pixels == NULL || spec == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_model_set_pixels: model, pixels and spec must not be NULL");
    tensor *t = &m->inputs[0];
    const size_t ch = spec->channels > 0 ? (size_t)spec->channels : 0;
    if (count != t->info.count || ch == 0 || ch > FL_MAX_INPUT_CHANNELS || t->info.rank < 1 ||
        (size_t)t->info.shape[t->info.rank - 1] != ch)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT,
                       "%zu pixels of %d channels do not match the model's input of %zu values (%s); pass one NHWC "
                       "sample after fl_prepare_pixels", count, spec->channels, t->info.count, t->info.name);
    m->dequantized = 0;
    fl_status st = input_table(m, spec, err);
    if (st != FL_OK) return st;
    switch (t->info.dtype) {
    case FL_DTYPE_FLOAT32: { /* fl_normalize's own values, looked up */
        float *o = t->host;
        if (ch == 3) {
            const float *n0 = m->normalized[0], *n1 = m->normalized[1], *n2 = m->normalized[2];
            for (size_t i = 0; i < count; i += 3) {
                o[i] = n0[pixels[i]];
                o[i + 1] = n1[pixels[i + 1]];
                o[i + 2] = n2[pixels[i + 2]];
            }
            break;
        }
        for (size_t i = 0; i < count; i += ch)
            for (size_t c = 0; c < ch; c++) o[i + c] = m->normalized[c][pixels[i + c]];
        break;
    }
    case FL_DTYPE_INT8: LOOK_UP(int8_t); break;
    case FL_DTYPE_UINT8: LOOK_UP(uint8_t); break;
    case FL_DTYPE_INT16: LOOK_UP(int16_t); break;
    default: LOOK_UP(int32_t); break;
    }
    return fl_ok(err);
}

#undef LOOK_UP

fl_status fl_model_run_image(fl_model *m, const fl_image *image, const fl_input_spec *spec, const double box[4],
                             fl_placement *placement, fl_scratch *scratch, fl_error *err)
{
    if (m == NULL || spec == NULL)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_model_run_image: model and spec must not be NULL");
    const size_t count = (size_t)spec->height * (size_t)spec->width * (size_t)spec->channels;
    if (count != m->inputs[0].info.count)
        return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "a %dx%dx%d input spec does not match the model's input of %zu "
                       "values", spec->height, spec->width, spec->channels, m->inputs[0].info.count);
    if (m->pixels == NULL && (m->pixels = malloc(count)) == NULL)
        return fl_fail(err, FL_ERR_NO_MEMORY, "out of memory for %zu input pixels", count);
    fl_status st = fl_prepare_pixels(image, spec, box, m->pixels, placement, scratch, err);
    if (st == FL_OK) st = fl_model_set_pixels(m, m->pixels, count, spec, err);
    return st == FL_OK ? fl_model_invoke(m, err) : st;
}

const uint8_t *fl_model_pixels(const fl_model *m)
{
    return m ? m->pixels : NULL;
}

fl_status fl_model_invoke(fl_model *m, fl_error *err)
{
    if (m == NULL) return fl_fail(err, FL_ERR_INVALID_ARGUMENT, "fl_model_invoke: model must not be NULL");
    m->dequantized = 0;
    LiteRtStatus st = LiteRtRunCompiledModel(m->rt.compiled, 0, m->n_inputs, m->input_buffers, m->n_outputs,
                                             m->output_buffers);
    if (st != kLiteRtStatusOk)
        return fl_fail(err, FL_ERR_LITERT, "%s: LiteRT failed to run variant '%s' (status %d)", m->bundle->path,
                       m->info.variant, st);
    return fl_ok(err);
}

fl_status fl_model_run(fl_model *m, const float *input, size_t count, fl_error *err)
{
    fl_status st = fl_model_set_input(m, input, count, err);
    return st == FL_OK ? fl_model_invoke(m, err) : st;
}

const float *fl_model_output(fl_model *m, size_t index, size_t *count)
{
    if (m == NULL || index >= m->n_outputs) return NULL;
    tensor *t = &m->outputs[index];
    if (count) *count = t->info.count;
    if (t->floats == NULL) return t->host;
    if (!m->dequantized) {
        for (size_t k = 0; k < m->n_outputs; k++) {
            tensor *o = &m->outputs[k];
            if (o->floats == NULL) continue;
            if (o->info.quantized) {
                if (fl_dequantize(o->host, o->info.count, o->info.dtype, o->info.scale, o->info.zero_point, o->floats,
                                  NULL) != FL_OK)
                    return NULL;
            } else { /* an unquantized integer or float16/64 output: its values as float32 */
                fl_convert_to_float32(o->info.dtype, o->host, o->info.count, o->floats);
            }
        }
        m->dequantized = 1;
    }
    return t->floats;
}
