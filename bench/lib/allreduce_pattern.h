// The known data crosslink-bench and its Gloo baseline reduce, and the check that counts #wrong.
// Rank r's element i holds a small integer that depends on both r and i, so a result that mixes
// up chunks, ranks or offsets differs from the expected sum; every value and every partial sum is
// an integer below 2^24, so float addition is exact in any order and the check is exact equality.
// Pure functions; thread-safe.
#ifndef CROSSLINK_BENCH_LIB_ALLREDUCE_PATTERN_H_
#define CROSSLINK_BENCH_LIB_ALLREDUCE_PATTERN_H_

#include <cstdint>

#include "absl/types/span.h"

namespace crosslink::bench {

// Rank `rank`'s value at element `index`.
float PatternValue(int rank, int64_t index);
// Fills `data` with rank `rank`'s pattern.
void FillPattern(int rank, absl::Span<float> data);
// Elements of `data` that differ from the sum over `world_size` ranks of the pattern.
int64_t CountWrongSum(int world_size, absl::Span<const float> data);
// For compressed allreduces, which are exact only to a bound (CompressedAllreduceErrorFactor,
// collectives/compression/wire_codec.h): elements farther from the sum than factor * W, with W
// the element's exact sum (per_element, bf16: every pattern value is >= 0, so it is the sum of
// |x|) or the largest exact sum of the pattern (int8: at least the largest over any block).
// *max_relative_error receives the largest |error| / W seen.
int64_t CountOutsideBound(int world_size, absl::Span<const float> data, double factor,
                          bool per_element, double* max_relative_error);

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_ALLREDUCE_PATTERN_H_
