#include "restart_policy.h"

#include <algorithm>

namespace crosslink::runtime {

RestartPolicy::RestartPolicy(int max_restarts, absl::Duration first_backoff,
                             absl::Duration max_backoff)
    : max_restarts_(std::max(0, max_restarts)),
      first_backoff_(first_backoff),
      max_backoff_(max_backoff) {}

std::optional<absl::Time> RestartPolicy::OnFailure(int rank, absl::Time now) {
  int& count = restarts_[rank];
  if (count >= max_restarts_) return std::nullopt;
  // 1st restart after first_backoff, then twice as long each time, at most max_backoff.
  absl::Duration backoff = first_backoff_;
  for (int i = 0; i < count && backoff < max_backoff_; ++i) backoff *= 2;
  ++count;
  return now + std::min(backoff, max_backoff_);
}

int RestartPolicy::restarts(int rank) const {
  const auto it = restarts_.find(rank);
  return it == restarts_.end() ? 0 : it->second;
}

int RestartPolicy::total_restarts() const {
  int total = 0;
  for (const auto& [rank, count] : restarts_) total += count;
  return total;
}

}  // namespace crosslink::runtime
