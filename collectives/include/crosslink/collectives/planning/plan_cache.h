// PlanCache: the plans a rank has made, by resolved spec (collective_spec.h) and plan rank, so
// that a training loop that repeats a handful of shapes plans each once. The executor needs only
// one rank's steps, so a plan here holds only that rank's list (algorithms.h's only_rank).
//
// Bounded: a program that sweeps sizes, or a contact-aware job whose ring order changes over an
// orbit, must not grow the cache without end; when `capacity` plans are held the cache is emptied
// (a satellite ring has few good orders over an orbit and a training loop few shapes, so
// refilling is rare and cheap).
//
// Thread-safety: every method is thread-safe. Plans are shared: a plan returned stays valid while
// the caller holds it, even if the cache drops it. Non-blocking (planning is CPU only).
#ifndef CROSSLINK_COLLECTIVES_PLANNING_PLAN_CACHE_H_
#define CROSSLINK_COLLECTIVES_PLANNING_PLAN_CACHE_H_

#include <cstddef>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "crosslink/collectives/collective_spec.h"
#include "crosslink/collectives/plan.h"

namespace crosslink::collectives {

class PlanCache {
 public:
  // 128: the runtime kept two caches of 64 (rank-order plans and contact-aware orders) before
  // they became one.
  explicit PlanCache(size_t capacity = 128) : capacity_(capacity) {}

  // The plan of the resolved `spec` for plan rank `plan_rank`, made on first use
  // (PlanCollective, algorithms.h). Errors are the planner's (kInvalidArgument) and are not
  // cached.
  absl::StatusOr<std::shared_ptr<const Plan>> Get(const CollectiveSpec& spec, int plan_rank);

  size_t size() const;

 private:
  const size_t capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::pair<CollectiveSpec, int>, std::shared_ptr<const Plan>> plans_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_PLANNING_PLAN_CACHE_H_
