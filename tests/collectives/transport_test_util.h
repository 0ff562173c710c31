// Helpers shared by the transport suites: deadlines relative to now and reproducible payloads.
#ifndef CROSSLINK_TESTS_COLLECTIVES_TRANSPORT_TEST_UTIL_H_
#define CROSSLINK_TESTS_COLLECTIVES_TRANSPORT_TEST_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crosslink::collectives::testing {

inline absl::Time In(absl::Duration d) { return absl::Now() + d; }

// n pseudo-random bytes, the same for the same seed (an LCG: payloads differ between messages
// and seeds, so a misplaced or reordered message shows).
inline std::vector<std::byte> Pattern(size_t n, uint32_t seed) {
  std::vector<std::byte> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    v[i] = static_cast<std::byte>(x >> 24);
  }
  return v;
}

}  // namespace crosslink::collectives::testing

#endif  // CROSSLINK_TESTS_COLLECTIVES_TRANSPORT_TEST_UTIL_H_
