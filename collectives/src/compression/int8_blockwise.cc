// The host int8 codec. Each step is a separate, correctly rounded float32 operation so that the
// CUDA kernels (which spell the same steps with __fadd_rn, __fdiv_rn, __fmul_rn) give the same
// bytes; contraction into fused multiply-adds would change the residual's last bit, hence the
// pragma (GCC already leaves -std=c++20 code uncontracted; this keeps it so under -march=native).
#pragma GCC optimize("fp-contract=off")

#include "crosslink/collectives/compression/int8_blockwise.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace crosslink::collectives {
namespace {

// The largest |v| of a block, NaN when any value is NaN (so a NaN block is detected below).
float BlockAbsMax(const float* v, size_t n) {
  float m = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const float a = std::fabs(v[i]);
    m = (a > m || a != a) ? a : m;
  }
  return m;
}

}  // namespace

void Int8QuantizeBlockwise(const float* x, size_t count, float* error_feedback, int8_t* q,
                           float* scales) {
  float v[kInt8BlockSize];
  for (size_t begin = 0, b = 0; begin < count; begin += kInt8BlockSize, ++b) {
    const size_t n = std::min(kInt8BlockSize, count - begin);
    for (size_t i = 0; i < n; ++i) {
      v[i] = error_feedback != nullptr ? x[begin + i] + error_feedback[begin + i] : x[begin + i];
    }
    const float amax = BlockAbsMax(v, n);
    if (!(amax <= std::numeric_limits<float>::max())) {
      scales[b] = std::numeric_limits<float>::quiet_NaN();
      for (size_t i = 0; i < n; ++i) {
        q[begin + i] = 0;
        if (error_feedback != nullptr) error_feedback[begin + i] = 0.0f;
      }
      continue;
    }
    const float scale = amax / 127.0f;
    scales[b] = scale;
    for (size_t i = 0; i < n; ++i) {
      float r = 0.0f;
      if (scale > 0.0f) {
        r = std::rint(v[i] / scale);
        r = std::min(std::max(r, -127.0f), 127.0f);
      }
      q[begin + i] = static_cast<int8_t>(static_cast<int>(r));
      if (error_feedback != nullptr) {
        const float d = r * scale;
        error_feedback[begin + i] = v[i] - d;
      }
    }
  }
}

void Int8DequantizeBlockwise(const int8_t* q, const float* scales, size_t count, float* out) {
  for (size_t i = 0; i < count; ++i) {
    out[i] = static_cast<float>(q[i]) * scales[i / kInt8BlockSize];
  }
}

}  // namespace crosslink::collectives
