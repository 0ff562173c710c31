#include "bench/lib/allreduce_pattern.h"

namespace crosslink::bench {

// 0..250 per element: with at most 65536 ranks every sum stays below 2^24.
float PatternValue(int rank, int64_t index) {
  return static_cast<float>((static_cast<int64_t>(rank) * 37 + index * 11) % 251);
}

void FillPattern(int rank, absl::Span<float> data) {
  for (size_t i = 0; i < data.size(); ++i) data[i] = PatternValue(rank, static_cast<int64_t>(i));
}

int64_t CountWrongSum(int world_size, absl::Span<const float> data) {
  int64_t wrong = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    float expected = 0;
    for (int r = 0; r < world_size; ++r) expected += PatternValue(r, static_cast<int64_t>(i));
    if (data[i] != expected) ++wrong;
  }
  return wrong;
}

}  // namespace crosslink::bench
