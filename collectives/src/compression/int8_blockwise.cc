// The host int8 codec: the active host kernel set's loops (host_kernels.h). Each step is a
// separate, correctly rounded float32 operation in every set, so that the CUDA kernels (which
// spell the same steps with __fadd_rn, __fdiv_rn, __fmul_rn) give the same bytes.
#include "crosslink/collectives/compression/int8_blockwise.h"

#include "crosslink/collectives/host_kernels.h"

namespace crosslink::collectives {

void Int8QuantizeBlockwise(const float* x, size_t count, float* error_feedback, int8_t* q,
                           float* scales) {
  ActiveHostKernels().int8_quantize(x, count, error_feedback, q, scales);
}

void Int8DequantizeBlockwise(const int8_t* q, const float* scales, size_t count, float* out) {
  ActiveHostKernels().int8_dequantize(q, scales, count, out);
}

}  // namespace crosslink::collectives
