#include "crosslink/collectives/planning/plan_cache.h"

#include <utility>

#include "crosslink/collectives/algorithms.h"

namespace crosslink::collectives {

absl::StatusOr<std::shared_ptr<const Plan>> PlanCache::Get(const CollectiveSpec& spec,
                                                           int plan_rank) {
  std::pair<CollectiveSpec, int> key{spec, plan_rank};
  {
    absl::MutexLock lock(&mu_);
    if (auto it = plans_.find(key); it != plans_.end()) return it->second;
  }
  // Planned outside the lock: a big ring plan takes milliseconds, and two threads planning the
  // same spec at once only waste work.
  absl::StatusOr<Plan> plan = PlanCollective(spec, plan_rank);
  if (!plan.ok()) return plan.status();
  auto shared = std::make_shared<const Plan>(*std::move(plan));
  absl::MutexLock lock(&mu_);
  if (plans_.size() >= capacity_) plans_.clear();
  plans_.emplace(std::move(key), shared);
  return shared;
}

size_t PlanCache::size() const {
  absl::MutexLock lock(&mu_);
  return plans_.size();
}

}  // namespace crosslink::collectives
