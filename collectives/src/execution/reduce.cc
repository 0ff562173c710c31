// The reduction loops. They are written as plain indexed loops over restrict pointers so that
// GCC vectorises them (SSE2 baseline, wider with -march); the fp16/bf16 conversions in half.h are
// branch-free for the same reason. -O2 in GCC 12 only vectorises with the "very cheap" cost model,
// which rejects loops that need a scalar epilogue, so this file asks for the dynamic model; and
// no-trapping-math lets it evaluate both arms of the fp16 conversions' selects (floating-point
// traps are masked on every target Crosslink runs on). Rounding, NaN and infinity semantics are
// untouched: this is not -ffast-math, and reduce_test checks the results bit for bit.
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math")

#include "crosslink/collectives/reduce.h"

#include <cstdint>
#include <type_traits>

#include "crosslink/collectives/half.h"

namespace crosslink::collectives {
namespace {

struct Sum {
  template <typename T>
  static T Apply(T a, T b) {
    return a + b;
  }
};

struct Min {
  template <typename T>
  static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return (a < b || a != a) ? a : b;  // a NaN in `a` wins; a NaN in `b` fails a < b
    } else {
      return a < b ? a : b;
    }
  }
};

struct Max {
  template <typename T>
  static T Apply(T a, T b) {
    if constexpr (std::is_floating_point_v<T>) {
      return (a > b || a != a) ? a : b;
    } else {
      return a > b ? a : b;
    }
  }
};

template <typename T, typename Op>
void ReduceNative(void* inout, const void* in, size_t count) {
  T* __restrict out = static_cast<T*>(inout);
  const T* __restrict src = static_cast<const T*>(in);
  for (size_t i = 0; i < count; ++i) out[i] = Op::Apply(out[i], src[i]);
}

// Integer sum wraps on overflow like unsigned arithmetic (two's complement) instead of being
// undefined behaviour, so that every rank computes the same bits even then.
template <typename T>
void ReduceIntSum(void* inout, const void* in, size_t count) {
  using U = std::make_unsigned_t<T>;
  T* __restrict out = static_cast<T*>(inout);
  const T* __restrict src = static_cast<const T*>(in);
  for (size_t i = 0; i < count; ++i) {
    out[i] = static_cast<T>(static_cast<U>(out[i]) + static_cast<U>(src[i]));
  }
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float), typename Op>
void Reduce16(void* inout, const void* in, size_t count) {
  uint16_t* __restrict out = static_cast<uint16_t*>(inout);
  const uint16_t* __restrict src = static_cast<const uint16_t*>(in);
  for (size_t i = 0; i < count; ++i) {
    out[i] = FromFloat(Op::Apply(ToFloat(out[i]), ToFloat(src[i])));
  }
}

template <typename T>
void FinalizeAvgFloat(void* data, size_t count, int world_size) {
  T* __restrict p = static_cast<T*>(data);
  const T n = static_cast<T>(world_size);
  for (size_t i = 0; i < count; ++i) p[i] = p[i] / n;
}

template <typename T>
void FinalizeAvgInt(void* data, size_t count, int world_size) {
  T* __restrict p = static_cast<T*>(data);
  const T n = static_cast<T>(world_size);
  for (size_t i = 0; i < count; ++i) p[i] = p[i] / n;
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void FinalizeAvg16(void* data, size_t count, int world_size) {
  uint16_t* __restrict p = static_cast<uint16_t*>(data);
  const float n = static_cast<float>(world_size);
  for (size_t i = 0; i < count; ++i) p[i] = FromFloat(ToFloat(p[i]) / n);
}

template <typename Op>
ReduceFn ForType(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return &ReduceNative<float, Op>;
    case DataType::kFloat64:
      return &ReduceNative<double, Op>;
    case DataType::kFloat16:
      return &Reduce16<HalfToFloat, FloatToHalf, Op>;
    case DataType::kBFloat16:
      return &Reduce16<BFloat16ToFloat, FloatToBFloat16, Op>;
    case DataType::kInt32:
      if constexpr (std::is_same_v<Op, Sum>) return &ReduceIntSum<int32_t>;
      return &ReduceNative<int32_t, Op>;
    case DataType::kInt64:
      if constexpr (std::is_same_v<Op, Sum>) return &ReduceIntSum<int64_t>;
      return &ReduceNative<int64_t, Op>;
  }
  return nullptr;
}

}  // namespace

ReduceFn GetReduceFn(DataType type, ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return ForType<Sum>(type);
    case ReduceOp::kMin:
      return ForType<Min>(type);
    case ReduceOp::kMax:
      return ForType<Max>(type);
  }
  return nullptr;
}

FinalizeFn GetFinalizeFn(DataType type, ReduceOp op) {
  if (op != ReduceOp::kAvg) return nullptr;
  switch (type) {
    case DataType::kFloat32:
      return &FinalizeAvgFloat<float>;
    case DataType::kFloat64:
      return &FinalizeAvgFloat<double>;
    case DataType::kFloat16:
      return &FinalizeAvg16<HalfToFloat, FloatToHalf>;
    case DataType::kBFloat16:
      return &FinalizeAvg16<BFloat16ToFloat, FloatToBFloat16>;
    case DataType::kInt32:
      return &FinalizeAvgInt<int32_t>;
    case DataType::kInt64:
      return &FinalizeAvgInt<int64_t>;
  }
  return nullptr;
}

}  // namespace crosslink::collectives
