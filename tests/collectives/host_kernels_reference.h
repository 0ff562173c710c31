// The scalar reference of the host kernels' reductions and kAvg finalisation: plain loops over
// half.h, written as the kernels were before they were vectorised, so that host_kernels_test and
// half_kernels_exhaustive_test hold every instruction set to the same bits.
#ifndef CROSSLINK_TESTS_COLLECTIVES_HOST_KERNELS_REFERENCE_H_
#define CROSSLINK_TESTS_COLLECTIVES_HOST_KERNELS_REFERENCE_H_

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/half.h"
#include "crosslink/collectives/reduce.h"

namespace crosslink::collectives {

// x86's scalar rule for a + b, spelled out: a NaN operand comes out quieted, the first one when
// both are NaN (host_kernels.inc: HostAdd).
inline float RefAdd(float a, float b) {
  if (a != a) return std::bit_cast<float>(std::bit_cast<uint32_t>(a) | 0x00400000u);
  if (b != b) return std::bit_cast<float>(std::bit_cast<uint32_t>(b) | 0x00400000u);
  return a + b;
}
inline double RefAdd(double a, double b) {
  if (a != a) return std::bit_cast<double>(std::bit_cast<uint64_t>(a) | 0x0008000000000000ull);
  if (b != b) return std::bit_cast<double>(std::bit_cast<uint64_t>(b) | 0x0008000000000000ull);
  return a + b;
}

template <typename T>
inline T RefApply(ReduceOp op, T a, T b) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      if constexpr (std::is_integral_v<T>) {
        using U = std::make_unsigned_t<T>;
        return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
      } else {
        return RefAdd(a, b);
      }
    case ReduceOp::kMin:
      if constexpr (std::is_floating_point_v<T>) return (a < b || a != a) ? a : b;
      return a < b ? a : b;
    case ReduceOp::kMax:
      if constexpr (std::is_floating_point_v<T>) return (a > b || a != a) ? a : b;
      return a > b ? a : b;
  }
  return a;
}

template <typename T>
inline void RefReduce(ReduceOp op, T* out, const T* in, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = RefApply(op, out[i], in[i]);
}

inline void RefReduce16(bool half, ReduceOp op, uint16_t* out, const uint16_t* in, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float a = half ? HalfToFloat(out[i]) : BFloat16ToFloat(out[i]);
    const float b = half ? HalfToFloat(in[i]) : BFloat16ToFloat(in[i]);
    const float r = RefApply(op, a, b);
    out[i] = half ? FloatToHalf(r) : FloatToBFloat16(r);
  }
}

inline void RefFinalize(DataType type, std::byte* data, size_t n, int world_size) {
  for (size_t i = 0; i < n; ++i) {
    switch (type) {
      case DataType::kFloat32: {
        float* p = reinterpret_cast<float*>(data) + i;
        *p = *p / static_cast<float>(world_size);
        break;
      }
      case DataType::kFloat64: {
        double* p = reinterpret_cast<double*>(data) + i;
        *p = *p / static_cast<double>(world_size);
        break;
      }
      case DataType::kFloat16: {
        uint16_t* p = reinterpret_cast<uint16_t*>(data) + i;
        *p = FloatToHalf(HalfToFloat(*p) / static_cast<float>(world_size));
        break;
      }
      case DataType::kBFloat16: {
        uint16_t* p = reinterpret_cast<uint16_t*>(data) + i;
        *p = FloatToBFloat16(BFloat16ToFloat(*p) / static_cast<float>(world_size));
        break;
      }
      case DataType::kInt32: {
        int32_t* p = reinterpret_cast<int32_t*>(data) + i;
        *p = *p / world_size;
        break;
      }
      case DataType::kInt64: {
        int64_t* p = reinterpret_cast<int64_t*>(data) + i;
        *p = *p / world_size;
        break;
      }
    }
  }
}

inline void RefReduceAny(DataType type, ReduceOp op, std::byte* out, const std::byte* in,
                         size_t n) {
  switch (type) {
    case DataType::kFloat32:
      return RefReduce(op, reinterpret_cast<float*>(out), reinterpret_cast<const float*>(in), n);
    case DataType::kFloat64:
      return RefReduce(op, reinterpret_cast<double*>(out), reinterpret_cast<const double*>(in), n);
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return RefReduce16(type == DataType::kFloat16, op, reinterpret_cast<uint16_t*>(out),
                         reinterpret_cast<const uint16_t*>(in), n);
    case DataType::kInt32:
      return RefReduce(op, reinterpret_cast<int32_t*>(out), reinterpret_cast<const int32_t*>(in),
                       n);
    case DataType::kInt64:
      return RefReduce(op, reinterpret_cast<int64_t*>(out), reinterpret_cast<const int64_t*>(in),
                       n);
  }
}

// The bf16 wire encoder: x (+ e) rounded to bf16 words; with error_feedback non-null, e becomes
// what the rounding lost, 0 where that is not finite.
inline void RefBFloat16Encode(const float* x, size_t n, float* error_feedback, uint16_t* out) {
  for (size_t i = 0; i < n; ++i) {
    if (error_feedback == nullptr) {
      out[i] = FloatToBFloat16(x[i]);
      continue;
    }
    const float v = RefAdd(x[i], error_feedback[i]);
    out[i] = FloatToBFloat16(v);
    const float lost = v - BFloat16ToFloat(out[i]);
    error_feedback[i] = std::isfinite(lost) ? lost : 0.0f;
  }
}

}  // namespace crosslink::collectives

#endif  // CROSSLINK_TESTS_COLLECTIVES_HOST_KERNELS_REFERENCE_H_
