#include "bench/lib/allreduce_pattern.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace crosslink::bench {

// 0..250 per element: with at most 65536 ranks every sum stays below 2^24.
float PatternValue(int rank, int64_t index) {
  return static_cast<float>((static_cast<int64_t>(rank) * 37 + index * 11) % 251);
}

// Every rank's pattern repeats with period 251 in the index, so both loops work from one period
// computed up front instead of calling PatternValue (a 64-bit division) per element: the check
// used to cost more CPU than the collective, and on a shared machine that time competes with
// ranks still in their timed loop.
constexpr int64_t kPeriod = 251;

void FillPattern(int rank, absl::Span<float> data) {
  float period[kPeriod];
  for (int64_t j = 0; j < kPeriod; ++j) period[j] = PatternValue(rank, j);
  for (size_t i = 0; i < data.size(); i += kPeriod) {
    const size_t n = std::min<size_t>(kPeriod, data.size() - i);
    std::copy(period, period + n, data.begin() + i);
  }
}

int64_t CountWrongSum(int world_size, absl::Span<const float> data) {
  float expected[kPeriod];
  for (int64_t j = 0; j < kPeriod; ++j) {
    expected[j] = 0;
    for (int r = 0; r < world_size; ++r) expected[j] += PatternValue(r, j);
  }
  int64_t wrong = 0;
  for (size_t i = 0; i < data.size(); i += kPeriod) {
    const size_t n = std::min<size_t>(kPeriod, data.size() - i);
    for (size_t j = 0; j < n; ++j) wrong += data[i + j] != expected[j];
  }
  return wrong;
}

int64_t CountOutsideBound(int world_size, absl::Span<const float> data, double factor,
                          bool per_element, double* max_relative_error) {
  double expected[kPeriod];
  double largest = 0;
  for (int64_t j = 0; j < kPeriod; ++j) {
    expected[j] = 0;
    for (int r = 0; r < world_size; ++r) expected[j] += PatternValue(r, j);
    largest = std::max(largest, expected[j]);
  }
  int64_t wrong = 0;
  double worst = 0;
  for (size_t i = 0; i < data.size(); i += kPeriod) {
    const size_t n = std::min<size_t>(kPeriod, data.size() - i);
    for (size_t j = 0; j < n; ++j) {
      const double w = per_element ? expected[j] : largest;
      const double error = std::fabs(static_cast<double>(data[i + j]) - expected[j]);
      wrong += !(error <= factor * w);  // NaN counts as wrong
      if (w > 0) worst = std::max(worst, error / w);
    }
  }
  *max_relative_error = worst;
  return wrong;
}

}  // namespace crosslink::bench
