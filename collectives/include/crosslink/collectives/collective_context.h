// CollectiveContext: the group a collective runs in, as the collectives' entry points
// (collectives.h, run_collective.h) see it: this rank, the world size, the job, the connections to
// every peer, the sequence number the next collective carries on the wire, what kAuto believes
// about the links, and the plans made so far.
//
// Ownership: whoever runs collectives owns the context (the runtime's Communicator holds one for
// its job; tests build one per rank thread over an in-process mesh) and advances `sequence` after
// every collective, whether it succeeded or not. The connections are borrowed: they must outlive
// every collective that uses them and must not be used by anything else while a collective runs.
// After a collective fails, their streams are out of step (executor.h): reconnect before the next
// one. The plan cache is shared (a copy of the context shares it).
// Thread-safety: one collective at a time per context; the plan cache itself is thread-safe.
#ifndef CROSSLINK_COLLECTIVES_COLLECTIVE_CONTEXT_H_
#define CROSSLINK_COLLECTIVES_COLLECTIVE_CONTEXT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "crosslink/collectives/collective_options.h"
#include "crosslink/collectives/cost_model.h"
#include "crosslink/collectives/planning/plan_cache.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

struct CollectiveContext {
  int rank = 0;
  int world_size = 1;
  uint64_t job_id = 0;
  // connections[p]: this rank's connection to rank p; nullptr at p == rank. Size world_size.
  std::vector<Connection*> connections;
  // The sequence number of the next collective; every rank must pass the same one.
  uint64_t sequence = 0;
  // What kAuto's cost model believes about the group's slowest link. It must be the same on every
  // rank, or ranks would choose different algorithms and wait on each other.
  LinkCostHints cost_hints;
  // Plans by resolved spec; nullptr plans every collective afresh.
  std::shared_ptr<PlanCache> plan_cache;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COLLECTIVE_CONTEXT_H_
