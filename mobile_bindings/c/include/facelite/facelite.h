/*
 * facelite.h: the public C API of libfacelite, the C core of facelite's mobile bindings.
 *
 * Why a C core: a phone app must give the answers of the Python reference runtime
 * (sdk_python/facelite) without re-implementing the bundle format, its checks and the
 * int8 handling by hand. This library reads a `.flb` bundle exactly as
 * `facelite.bundle.Bundle.open` does (docs/bundle.md), checks its signature as
 * `facelite.signing` does, and runs a variant through the LiteRT C API as
 * `facelite.engine.Engine` does. Kotlin (JNI) and Swift mirror this header one to one.
 *
 * Conventions (every function):
 * - Handles are opaque (`fl_bundle`, `fl_model`) and released with their `*_destroy`.
 * - A function that can fail returns an `fl_status` and, when `err` is not NULL, fills it
 *   with the same code and a message that says what failed, where, and how to fix it.
 *   The library never prints, aborts or exits.
 * - Strings returned by accessors belong to the handle and live as long as it does.
 * - An `fl_bundle` is immutable once open and may be shared between threads; an
 *   `fl_model` is used by one thread at a time (make one per thread).
 *
 * Example (error handling shortened):
 *
 *     fl_error err;
 *     fl_bundle *bundle;
 *     fl_model *model;
 *     if (fl_bundle_open("expression.flb", NULL, &bundle, &err) != FL_OK) {
 *         fprintf(stderr, "error: %s\n", err.message);
 *         return 2;
 *     }
 *     fl_model_create(bundle, NULL, FL_ACCELERATOR_AUTO, 2, &model, &err);
 *     fl_model_run(model, tensor, tensor_count, &err);   // float32 NHWC, one sample
 *     size_t n;
 *     const float *scores = fl_model_output(model, 0, &n);
 *     fl_model_destroy(model);
 *     fl_bundle_destroy(bundle);
 *
 * Pixels to tensor (decode, colour, crop, resize, normalise) is facelite/preprocess.h
 * and facelite/image.h. The face pipeline (`fl_analyzer_create(options)` →
 * `fl_analyze(analyzer, image, &result)` → `fl_result_*` accessors →
 * `fl_analyzer_destroy`, as in the design contract) is declared in facelite/analyzer.h
 * over the handles below.
 */
#ifndef FACELITE_FACELITE_H
#define FACELITE_FACELITE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define FL_API
#else
#define FL_API __attribute__((visibility("default")))
#endif

#define FL_VERSION_MAJOR 0
#define FL_VERSION_MINOR 1
#define FL_VERSION_PATCH 0

/** The library's version, "major.minor.patch". */
FL_API const char *fl_version(void);

/* ----------------------------------------------------------------------------------
 * Status codes and errors
 * -------------------------------------------------------------------------------- */

/** What went wrong. Codes 1-7 are the caller's input (a CLI exits 2), the rest are not (exit 1). */
typedef enum fl_status {
    FL_OK = 0,
    FL_ERR_INVALID_ARGUMENT = 1, /**< a NULL handle, an out-of-range index, an unknown name */
    FL_ERR_IO = 2,               /**< a file is missing, unreadable, not a regular file or too large */
    FL_ERR_BUNDLE_INVALID = 3,   /**< not a bundle facelite reads: zip, manifest, schema, .npy, model */
    FL_ERR_CHECKSUM = 4,         /**< a member's bytes differ from their sha256 (or CRC-32) */
    FL_ERR_SIGNATURE = 5,        /**< the signature policy refuses the bundle */
    FL_ERR_UNSUPPORTED = 6,      /**< well-formed, but not something this build can do */
    FL_ERR_IMAGE_INVALID = 7,    /**< an image that cannot be decoded or is too large (image.h) */
    FL_ERR_LITERT = 8,           /**< LiteRT failed while running a model that loaded */
    FL_ERR_NO_MEMORY = 9,        /**< an allocation failed */
    FL_ERR_INTERNAL = 10         /**< a bug in facelite: please report it with the message */
} fl_status;

/** Longest message an `fl_error` holds, terminating NUL included (longer ones are cut). */
#define FL_ERROR_MESSAGE_MAX 1024

/** A status and its message, filled by any function given a non-NULL `err`. */
typedef struct fl_error {
    fl_status code;
    char message[FL_ERROR_MESSAGE_MAX];
} fl_error;

/** "ok", "invalid_argument", "io", "bundle_invalid", "checksum", "signature", ... */
FL_API const char *fl_status_name(fl_status status);

/** 1 when `status` is a problem with the caller's input (a CLI exits 2), else 0. */
FL_API int fl_status_is_user_error(fl_status status);

/* ----------------------------------------------------------------------------------
 * Small enums shared by the API
 * -------------------------------------------------------------------------------- */

/** Element types of tensors and `.npy` arrays. */
typedef enum fl_dtype {
    FL_DTYPE_FLOAT32 = 1,
    FL_DTYPE_INT8 = 2,
    FL_DTYPE_UINT8 = 3,
    FL_DTYPE_INT16 = 4,
    FL_DTYPE_INT32 = 5,
    FL_DTYPE_FLOAT16 = 6,
    FL_DTYPE_FLOAT64 = 7
} fl_dtype;

/** "float32", "int8", ... (NumPy's names). */
FL_API const char *fl_dtype_name(fl_dtype dtype);
/** Bytes per element (0 for an unknown value). */
FL_API size_t fl_dtype_size(fl_dtype dtype);

/** Where a model runs. AUTO tries NPU, then GPU, then CPU, as `facelite.engine.AUTO_ORDER`. */
typedef enum fl_accelerator {
    FL_ACCELERATOR_AUTO = 0,
    FL_ACCELERATOR_CPU = 1,
    FL_ACCELERATOR_GPU = 2,
    FL_ACCELERATOR_NPU = 3
} fl_accelerator;

/** "auto", "cpu", "gpu", "npu". */
FL_API const char *fl_accelerator_name(fl_accelerator accelerator);
/** The accelerator named `name` (case-sensitive, as above); FL_ERR_INVALID_ARGUMENT naming the choices otherwise. */
FL_API fl_status fl_accelerator_parse(const char *name, fl_accelerator *out, fl_error *err);

/** 1 when `FL_ACCELERATOR_AUTO` should try `accelerator` on this host
 *  (`facelite.engine.accelerator_present`): on Linux and Android a GPU or NPU is reached
 *  only through a device node (/dev/dri/renderD*, /dev/kgsl-3d0, /dev/mali*, /dev/nvidia*;
 *  /dev/accel/accel*, /dev/fastrpc-*, /dev/adsprpc-smd, /dev/apusys, /dev/edgetpu*,
 *  /dev/apex_*), so with none of them the probe is skipped; elsewhere, or with the
 *  environment variable FACELITE_PROBE_ACCELERATORS set, 1. The CPU is always 1. Looked
 *  up once per process. */
FL_API int fl_accelerator_present(fl_accelerator accelerator);

/** The manifest's `task`. */
typedef enum fl_task {
    FL_TASK_CLASSIFICATION = 0,
    FL_TASK_LANDMARKS = 1,
    FL_TASK_DETECTION = 2,
    FL_TASK_IMAGE_TO_IMAGE = 3,
    FL_TASK_SKIN_METRICS = 4
} fl_task;

/** "classification", "landmarks", "detection", "image_to_image", "skin_metrics". */
FL_API const char *fl_task_name(fl_task task);

/** Channel order a model expects (`input.color`). */
typedef enum fl_color {
    FL_COLOR_RGB = 0,
    FL_COLOR_BGR = 1,
    FL_COLOR_GRAY = 2,
    FL_COLOR_GRAY_AS_RGB = 3
} fl_color;

/** Resize kernel (`input.resize`, docs/preprocessing.md step 4). */
typedef enum fl_resize {
    FL_RESIZE_BILINEAR = 0,
    FL_RESIZE_AREA = 1,
    FL_RESIZE_NEAREST = 2
} fl_resize;

/** How the model's region is cut from a photo (`input.crop`, step 3). */
typedef enum fl_crop {
    FL_CROP_NONE = 0,
    FL_CROP_FACE = 1,
    FL_CROP_LETTERBOX = 2
} fl_crop;

/** Most channels a model input has (`input.shape[3]`: colour + extra channels). */
#define FL_MAX_INPUT_CHANNELS 16

/** The manifest's `input` block: how pixels become the model's tensor (docs/preprocessing.md). */
typedef struct fl_input_spec {
    int height;       /**< input.shape[1], 8..2048 */
    int width;        /**< input.shape[2], 8..2048 */
    int channels;     /**< input.shape[3]: the colour's 1 or 3, plus extra_channels */
    int extra_channels; /**< len(input.extra_channels): channels after the colour ones that the
                             caller fills (the skin_metrics masks, docs/skin.md); 0 for image models,
                             the only ones `fl_prepare` makes */
    fl_color color;
    fl_resize resize;
    fl_crop crop;     /**< FL_CROP_NONE when absent */
    double margin;    /**< face crop margin per side, fraction of the box; 0 when absent */
    float mean[FL_MAX_INPUT_CHANNELS]; /**< step 5: rounded to float once; `channels` values used */
    float std[FL_MAX_INPUT_CHANNELS];
} fl_input_spec;

/* ----------------------------------------------------------------------------------
 * Arrays (golden vectors and other `.npy` members)
 * -------------------------------------------------------------------------------- */

/** Most dimensions of a tensor or array (LiteRT's and the bundle's `.npy` limit alike). */
#define FL_MAX_RANK 8

/** An owned, C-ordered array; release with `fl_array_destroy`. */
typedef struct fl_array {
    fl_dtype dtype;
    size_t rank;
    int64_t shape[FL_MAX_RANK];
    size_t count; /**< elements: the product of shape */
    void *data;   /**< count elements of dtype (NULL when count is 0) */
} fl_array;

FL_API void fl_array_destroy(fl_array *array);

/** Parse a NumPy `.npy` file's bytes (format 1.0/2.0) into a new array. The header is
 *  checked before anything is allocated, as `facelite.bundle.read_npy` does: C order, one
 *  of |u1 |i1 <i2 <i4 <f2 <f4 <f8, at most 8 dimensions, shape x item size equal to the
 *  bytes that follow. Nothing is ever unpickled. */
FL_API fl_status fl_npy_read(const void *data, size_t size, fl_array **out, fl_error *err);

/* ----------------------------------------------------------------------------------
 * Bundles
 * -------------------------------------------------------------------------------- */

typedef struct fl_bundle fl_bundle;

/** A raw Ed25519 public key (a trusted signer). */
typedef struct fl_public_key {
    uint8_t bytes[32];
} fl_public_key;

/** Whether a bundle must carry a trusted signature (docs/bundle.md, "Policy"). */
typedef enum fl_signature_requirement {
    /** Unsigned bundles and untrusted keys are refused (FL_ERR_SIGNATURE). The default. */
    FL_SIGNATURE_REQUIRED = 0,
    /** They load, with `fl_signature_info.warning` set. A signature that does not verify
     *  is refused either way: the bundle changed after it was signed. */
    FL_SIGNATURE_OPTIONAL = 1
} fl_signature_requirement;

/** How `fl_bundle_open` judges a bundle's signature. Start from `fl_bundle_options_init`. */
typedef struct fl_bundle_options {
    fl_signature_requirement signature;
    const fl_public_key *trusted_keys; /**< the caller's trusted signers (copied at open) */
    size_t trusted_key_count;
    /** Trust the facelite development key (default 1). Its private half is public, so a
     *  bundle it signed loads with a warning; set 0 in production with your own keys. */
    int trust_development_key;
} fl_bundle_options;

/** Defaults: signature required, no extra keys, the development key trusted. */
FL_API void fl_bundle_options_init(fl_bundle_options *options);

/** An Ed25519 public key from PEM text (`-----BEGIN PUBLIC KEY-----`, as `facelite-build
 *  keygen` writes; text before the BEGIN line is a comment). */
FL_API fl_status fl_public_key_from_pem(const char *pem, size_t size, fl_public_key *out, fl_error *err);

/**
 * Open the bundle file at `path` (memory-mapped; nothing is copied or inflated).
 *
 * Checked here, in this order: a regular file of 1 byte to 512 MiB; the zip directory
 * (stored members only, unique plain names, size caps, headers cross-checked); the
 * manifest (strict JSON, its JSON Schema, the cross-field rules, members it names
 * present); the signature against `options` (NULL: `fl_bundle_options_init`'s
 * defaults). Variants are sha256-checked later, before LiteRT sees them.
 */
FL_API fl_status fl_bundle_open(const char *path, const fl_bundle_options *options, fl_bundle **out,
                                fl_error *err);

/** `fl_bundle_open` over a caller's buffer (e.g. an Android asset), which must stay alive
 *  and unchanged until the bundle and every model made from it are destroyed. */
FL_API fl_status fl_bundle_open_buffer(const void *data, size_t size, const fl_bundle_options *options,
                                       fl_bundle **out, fl_error *err);

/** Release the caller's reference; the mapping lives on while models made from it do. */
FL_API void fl_bundle_destroy(fl_bundle *bundle);

/** The path given to `fl_bundle_open`, or "<buffer>". */
FL_API const char *fl_bundle_path(const fl_bundle *bundle);
FL_API const char *fl_bundle_name(const fl_bundle *bundle);
FL_API const char *fl_bundle_version(const fl_bundle *bundle);
FL_API fl_task fl_bundle_task(const fl_bundle *bundle);
FL_API size_t fl_bundle_label_count(const fl_bundle *bundle);
/** Label `index` in output order, or NULL past the end. */
FL_API const char *fl_bundle_label(const fl_bundle *bundle, size_t index);
FL_API const fl_input_spec *fl_bundle_input_spec(const fl_bundle *bundle);
/** The manifest's exact bytes (CRC-checked, not NUL-terminated), for keys this header does
 *  not expose (the `output` block's decoding parameters, metrics, build information). */
FL_API const char *fl_bundle_manifest_json(const fl_bundle *bundle, size_t *size);

/** What the signature check found at open (docs/bundle.md, "Verifying"). */
typedef struct fl_signature_info {
    int is_signed;       /**< the bundle holds signature.json */
    int valid;           /**< it verifies over every other member */
    int trusted;         /**< ...and its key is one the options trust */
    int development_key; /**< ...and that key is the facelite development key */
    int required;        /**< the options required a trusted signature */
    char key_id[17];     /**< first 16 hex digits of sha256(public key); "" when unsigned */
    /** NULL, or why the bundle loaded without a signature that proves its origin
     *  (unsigned, untrusted key or the development key, when allowed). */
    const char *warning;
} fl_signature_info;

FL_API const fl_signature_info *fl_bundle_signature(const fl_bundle *bundle);

/** One `.tflite` variant as the manifest describes it. */
typedef struct fl_variant_info {
    const char *name;   /**< "fp32", "fp16", "dynamic" or "int8" */
    const char *file;   /**< its member, e.g. "int8.tflite" */
    const char *sha256; /**< 64 lowercase hex digits */
    const char *target; /**< "cpu", "gpu" or "npu" */
    uint64_t bytes;
    fl_dtype input_dtype;
    fl_dtype output_dtype;
    double sparsity;
    int gpu_compatible; /**< the build's gate found every op supported on the GPU */
    int npu_compatible;
    uint64_t offset;    /**< where its bytes start in the bundle file */
} fl_variant_info;

/** Variants held, in order of fidelity (fp32, fp16, dynamic, int8). */
FL_API size_t fl_bundle_variant_count(const fl_bundle *bundle);
FL_API fl_status fl_bundle_variant_at(const fl_bundle *bundle, size_t index, fl_variant_info *out, fl_error *err);
/** The variant called `name`; FL_ERR_INVALID_ARGUMENT naming those the bundle holds otherwise. */
FL_API fl_status fl_bundle_variant(const fl_bundle *bundle, const char *name, fl_variant_info *out, fl_error *err);
/** The variant to run on `accelerator` (`facelite.engine.choose_variant`), or NULL if none suits. */
FL_API const char *fl_bundle_choose_variant(const fl_bundle *bundle, fl_accelerator accelerator);

/** 1 when the manifest has a `golden` block. */
FL_API int fl_bundle_has_golden(const fl_bundle *bundle);
/** The golden inputs as stored: (N, H, W, C) uint8 pixels or float normalised tensors. */
FL_API fl_status fl_bundle_golden_inputs(const fl_bundle *bundle, fl_array **out, fl_error *err);
/** The golden inputs as float32 model tensors: pixels normalised with the manifest's
 *  mean/std (step 5), as `facelite.bundle.Bundle.golden` does. */
FL_API fl_status fl_bundle_golden_tensors(const fl_bundle *bundle, fl_array **out, fl_error *err);
/** What the reference runtime computed with `variant` on the goldens (fp32: the trained
 *  model), as float32, one row per golden input; *out is NULL when the bundle holds none. */
FL_API fl_status fl_bundle_golden_outputs(const fl_bundle *bundle, const char *variant, fl_array **out,
                                          fl_error *err);
/** Any `.npy` member, header checked before anything is allocated (docs/bundle.md). */
FL_API fl_status fl_bundle_read_npy(const fl_bundle *bundle, const char *member, fl_array **out, fl_error *err);

/* ----------------------------------------------------------------------------------
 * Models: one variant running in LiteRT
 * -------------------------------------------------------------------------------- */

typedef struct fl_model fl_model;

/** A model input or output as LiteRT sees it. */
typedef struct fl_tensor_info {
    const char *name;
    fl_dtype dtype;
    size_t rank;
    int32_t shape[FL_MAX_RANK];
    size_t count;       /**< elements of one sample */
    int quantized;      /**< 1 for an affine-quantized integer tensor */
    float scale;        /**< real = scale * (q - zero_point) */
    int64_t zero_point;
} fl_tensor_info;

/** What a model runs and why. */
typedef struct fl_model_info {
    const char *variant;
    fl_accelerator accelerator_requested;
    fl_accelerator accelerator;  /**< where it runs: the request, or CPU after a fallback */
    const char *fallback_reason; /**< NULL, or why the requested GPU/NPU is not used */
    int threads;                 /**< CPU threads asked for (0: LiteRT decides) */
    double init_ms;              /**< fl_model_create's wall time */
} fl_model_info;

/**
 * Load `variant` of `bundle` (NULL or "auto": `fl_bundle_choose_variant`) into LiteRT.
 *
 * The variant's size and sha256 are checked against the manifest before LiteRT sees a
 * byte; its bytes are handed to LiteRT straight from the bundle's mapping. GPU/NPU are
 * tried only with a variant the build marked compatible, and a failure falls back to the
 * CPU with the reason in `fl_model_get_info(model)->fallback_reason`. `threads` is the
 * CPU thread count (0: LiteRT's choice). The model keeps the bundle alive.
 */
FL_API fl_status fl_model_create(fl_bundle *bundle, const char *variant, fl_accelerator accelerator, int threads,
                                 fl_model **out, fl_error *err);
/** The rules a loaded model must meet for its bundle's task (`facelite.tasks.require_engine`):
 * a classifier outputs one score per label, a landmarks model 136 values, a detector's
 * outputs can be told apart, an image_to_image model outputs an image output.scale x its input.
 * FL_ERR_BUNDLE_INVALID naming the counts otherwise. */
FL_API fl_status fl_model_check_task(const fl_bundle *bundle, const fl_model *model, fl_error *err);
FL_API void fl_model_destroy(fl_model *model);
FL_API const fl_model_info *fl_model_get_info(const fl_model *model);

FL_API size_t fl_model_input_count(const fl_model *model);
FL_API size_t fl_model_output_count(const fl_model *model);
FL_API fl_status fl_model_input_info(const fl_model *model, size_t index, fl_tensor_info *out, fl_error *err);
/** Outputs are in the model's own order (`facelite.engine.Engine.output_details`). */
FL_API fl_status fl_model_output_info(const fl_model *model, size_t index, fl_tensor_info *out, fl_error *err);

/** Set input 0 from one float32 sample of `count` elements (NHWC, batch 1); an int8 input
 *  is quantized here exactly as docs/preprocessing.md step 6 says. */
FL_API fl_status fl_model_set_input(fl_model *model, const float *input, size_t count, fl_error *err);
/** Run LiteRT on the inputs set, and nothing else (the bench times this). */
FL_API fl_status fl_model_invoke(fl_model *model, fl_error *err);
/** `fl_model_set_input` then `fl_model_invoke`. */
FL_API fl_status fl_model_run(fl_model *model, const float *input, size_t count, fl_error *err);
/** Output `index` of the last invoke as float32 (int8 outputs dequantized), `*count`
 *  elements; valid until the next invoke. NULL when `index` is out of range. */
FL_API const float *fl_model_output(fl_model *model, size_t index, size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* FACELITE_FACELITE_H */
