// Type-erased host reductions: one function pointer per (DataType, ReduceOp), as Gloo keeps them,
// so that plans and the executor stay free of templates. The loops live in reduce.cc where the
// compiler sees the element type and vectorises them.
//
// Order and bit-identity: a ReduceFn combines exactly two operands per element,
// inout[i] = op(inout[i], in[i]); the algorithms fix which rank combines which partial results in
// which order, and compute each final value on one rank only (see plan.h), so every rank ends
// with the same bits. fp16/bf16 widen both operands to float32, combine, and round back to 16 bits
// at every step, exactly as a reference that reduces in the same order does.
//
// kAvg reduces as kSum; FinalizeFn then divides by the world size once (floats: IEEE division,
// correctly rounded; integers: C++ division, truncating toward zero).
//
// min/max on floats propagate NaN (as torch.minimum does): a NaN in either operand gives a NaN.
//
// Thread-safety: the functions are pure; buffers must not be written concurrently.
#ifndef CROSSLINK_COLLECTIVES_REDUCE_H_
#define CROSSLINK_COLLECTIVES_REDUCE_H_

#include <cstddef>

#include "crosslink/collectives/datatype.h"

namespace crosslink::collectives {

// inout[i] = op(inout[i], in[i]) for i in [0, count). `inout` and `in` hold `count` elements of
// the type the function was chosen for and must not overlap.
using ReduceFn = void (*)(void* inout, const void* in, size_t count);

// data[i] = finalize(data[i]) for i in [0, count): for kAvg, data[i] / world_size; for the other
// ops the identity (GetFinalizeFn returns nullptr for them, so callers skip the pass).
using FinalizeFn = void (*)(void* data, size_t count, int world_size);

// The reduction for (type, op). Never nullptr for valid enumerators.
ReduceFn GetReduceFn(DataType type, ReduceOp op);

// The finalisation pass for (type, op), or nullptr when the op needs none (everything but kAvg).
FinalizeFn GetFinalizeFn(DataType type, ReduceOp op);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_REDUCE_H_
