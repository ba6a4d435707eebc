/* litert.h: our own declarations of the LiteRT C API functions libfacelite calls.
 *
 * libLiteRt.so ships in the ai-edge-litert wheel without headers, so the prototypes and
 * the few ABI-stable types used are written here from LiteRT's public C headers
 * (google-ai-edge/LiteRT, the headers under litert/c) of the release the wheel carries; every symbol was
 * checked with `nm -D libLiteRt.so` and `LiteRtCreateModelFromBuffer`'s environment
 * argument against its disassembly. tests/test_engine.c checks the layouts at run time. */
#ifndef FACELITE_SRC_LITERT_H
#define FACELITE_SRC_LITERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct LiteRtEnvironmentT *LiteRtEnvironment;
typedef struct LiteRtModelT *LiteRtModel;
typedef struct LiteRtSignatureT *LiteRtSignature;
typedef struct LiteRtSubgraphT *LiteRtSubgraph;
typedef struct LiteRtTensorT *LiteRtTensor;
typedef struct LiteRtOptionsT *LiteRtOptions;
typedef struct LiteRtOpaqueOptionsT *LiteRtOpaqueOptions;
typedef struct LiteRtCompiledModelT *LiteRtCompiledModel;
typedef struct LiteRtTensorBufferT *LiteRtTensorBuffer;

typedef int LiteRtStatus; /* kLiteRtStatusOk = 0 */
typedef size_t LiteRtParamIndex;
typedef int LiteRtHwAcceleratorSet;

enum {
    kLiteRtStatusOk = 0,
    kLiteRtHwAcceleratorCpu = 1 << 0,
    kLiteRtHwAcceleratorGpu = 1 << 1,
    kLiteRtHwAcceleratorNpu = 1 << 2,
};

/* LiteRtElementType (TfLiteType values). */
enum {
    kLiteRtElementTypeFloat32 = 1,
    kLiteRtElementTypeInt32 = 2,
    kLiteRtElementTypeUInt8 = 3,
    kLiteRtElementTypeInt16 = 7,
    kLiteRtElementTypeInt8 = 9,
    kLiteRtElementTypeFloat16 = 10,
    kLiteRtElementTypeFloat64 = 11,
};

enum { kLiteRtRankedTensorType = 0 };                              /* LiteRtTensorTypeId */
enum { kLiteRtQuantizationNone = 0, kLiteRtQuantizationPerTensor = 1 }; /* LiteRtQuantizationTypeId */

#define FL_LITERT_MAX_RANK 8

/* LiteRtLayout and LiteRtRankedTensorType: 72 bytes, the layout at offset 4. */
typedef struct fl_litert_layout {
    unsigned int rank : 7;
    unsigned int has_strides : 1;
    int32_t dimensions[FL_LITERT_MAX_RANK];
    uint32_t strides[FL_LITERT_MAX_RANK];
} fl_litert_layout;

typedef struct fl_litert_tensor_type {
    int element_type;
    fl_litert_layout layout;
} fl_litert_tensor_type;

typedef struct fl_litert_quantization {
    float scale;
    int64_t zero_point;
} fl_litert_quantization;

_Static_assert(sizeof(fl_litert_tensor_type) == 72, "LiteRtRankedTensorType is 72 bytes");
_Static_assert(sizeof(fl_litert_quantization) == 16, "LiteRtQuantizationPerTensor is 16 bytes");

LiteRtStatus LiteRtCreateEnvironment(int num_options, const void *options, LiteRtEnvironment *environment);
void LiteRtDestroyEnvironment(LiteRtEnvironment environment);

LiteRtStatus LiteRtCreateModelFromBuffer(LiteRtEnvironment environment, const void *buffer_addr, size_t buffer_size,
                                         LiteRtModel *model);
void LiteRtDestroyModel(LiteRtModel model);
LiteRtStatus LiteRtGetNumModelSignatures(LiteRtModel model, LiteRtParamIndex *num_signatures);
LiteRtStatus LiteRtGetModelSignature(LiteRtModel model, LiteRtParamIndex index, LiteRtSignature *signature);
LiteRtStatus LiteRtGetSignatureSubgraph(LiteRtSignature signature, LiteRtSubgraph *subgraph);
LiteRtStatus LiteRtGetNumSignatureInputs(LiteRtSignature signature, LiteRtParamIndex *num_inputs);
LiteRtStatus LiteRtGetNumSignatureOutputs(LiteRtSignature signature, LiteRtParamIndex *num_outputs);
LiteRtStatus LiteRtGetSignatureInputTensorByIndex(LiteRtSignature signature, LiteRtParamIndex index,
                                                  LiteRtTensor *tensor);
LiteRtStatus LiteRtGetSignatureOutputTensorByIndex(LiteRtSignature signature, LiteRtParamIndex index,
                                                   LiteRtTensor *tensor);
LiteRtStatus LiteRtGetNumSubgraphOutputs(LiteRtSubgraph subgraph, LiteRtParamIndex *num_outputs);
LiteRtStatus LiteRtGetSubgraphOutput(LiteRtSubgraph subgraph, LiteRtParamIndex index, LiteRtTensor *output);
LiteRtStatus LiteRtGetTensorName(LiteRtTensor tensor, const char **name);
LiteRtStatus LiteRtGetTensorTypeId(LiteRtTensor tensor, int *type_id);
LiteRtStatus LiteRtGetRankedTensorType(LiteRtTensor tensor, fl_litert_tensor_type *type);
LiteRtStatus LiteRtGetQuantizationTypeId(LiteRtTensor tensor, int *quantization_type);
LiteRtStatus LiteRtGetPerTensorQuantization(LiteRtTensor tensor, fl_litert_quantization *quantization);

LiteRtStatus LiteRtCreateOptions(LiteRtOptions *options);
void LiteRtDestroyOptions(LiteRtOptions options);
LiteRtStatus LiteRtSetOptionsHardwareAccelerators(LiteRtOptions options, LiteRtHwAcceleratorSet accelerators);
LiteRtStatus LiteRtCreateOpaqueOptions(const char *payload_identifier, void *payload_data,
                                       void (*payload_destructor)(void *payload_data), LiteRtOpaqueOptions *options);
LiteRtStatus LiteRtAddOpaqueOptions(LiteRtOptions options, LiteRtOpaqueOptions opaque_options);

LiteRtStatus LiteRtCreateCompiledModel(LiteRtEnvironment environment, LiteRtModel model, LiteRtOptions options,
                                       LiteRtCompiledModel *compiled_model);
void LiteRtDestroyCompiledModel(LiteRtCompiledModel compiled_model);
LiteRtStatus LiteRtCompiledModelIsFullyAccelerated(LiteRtCompiledModel compiled_model, bool *fully_accelerated);
LiteRtStatus LiteRtGetCompiledModelOutputTensorLayouts(LiteRtCompiledModel compiled_model,
                                                       LiteRtParamIndex signature_index, size_t num_layouts,
                                                       fl_litert_layout *layouts, bool update_allocation);
LiteRtStatus LiteRtRunCompiledModel(LiteRtCompiledModel compiled_model, LiteRtParamIndex signature_index,
                                    size_t num_input_buffers, LiteRtTensorBuffer *input_buffers,
                                    size_t num_output_buffers, LiteRtTensorBuffer *output_buffers);

#define FL_LITERT_HOST_ALIGNMENT 64 /* LITERT_HOST_MEMORY_BUFFER_ALIGNMENT */
LiteRtStatus LiteRtCreateTensorBufferFromHostMemory(const fl_litert_tensor_type *tensor_type, void *host_buffer_addr,
                                                    size_t host_buffer_size, void (*deallocator)(void *addr),
                                                    LiteRtTensorBuffer *buffer);
void LiteRtDestroyTensorBuffer(LiteRtTensorBuffer buffer);

#endif
