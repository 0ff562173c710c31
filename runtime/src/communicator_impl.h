// Private state of a Communicator, shared by communicator.cc (joining the job) and
// communicator_collectives.cc (running collectives). Not a public header.
#ifndef CROSSLINK_RUNTIME_SRC_COMMUNICATOR_IMPL_H_
#define CROSSLINK_RUNTIME_SRC_COMMUNICATOR_IMPL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "crosslink/collectives/emulation/link_emulator.h"
#include "crosslink/collectives/emulation/link_timeline.h"
#include "crosslink/collectives/plan.h"
#include "crosslink/collectives/transport/transport.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {

class Communicator::Impl {
 public:
  // The transport context keeps the accept thread; it outlives the connections it made.
  std::unique_ptr<collectives::Context> context;
  // connections[p]: this rank's end to rank p (nullptr for p == rank). Either a TCP connection or
  // a LinkEmulator owning one. Fixed after Create, so collectives read it without the lock.
  std::vector<std::unique_ptr<collectives::Connection>> connections;
  std::vector<collectives::Connection*> raw_connections;
  // emulators[p]: the LinkEmulator of connections[p], or nullptr (ideal job, or p == rank).
  std::vector<collectives::LinkEmulator*> emulators;
  // timelines[p]: the truth of the link rank -> p, for the cost model; nullptr when ideal.
  std::vector<std::shared_ptr<const collectives::LinkTimeline>> timelines;

  // Held for the whole of a collective: one at a time.
  absl::Mutex collective_mu;
  uint64_t next_sequence ABSL_GUARDED_BY(collective_mu) = 1;
  // Plans by (kind, algorithm, count, type, op, root, max_segment_bytes); the executor needs only
  // this rank's steps, and a training loop repeats the same few shapes.
  using PlanKey = std::tuple<int, int, size_t, int, int, int, size_t>;
  std::map<PlanKey, collectives::Plan> plans ABSL_GUARDED_BY(collective_mu);

  mutable absl::Mutex state_mu;
  // The first failure of a collective; later collectives fail with kFailedPrecondition.
  absl::Status broken ABSL_GUARDED_BY(state_mu);
  Membership membership ABSL_GUARDED_BY(state_mu);
  CollectiveStats last_stats ABSL_GUARDED_BY(state_mu);
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_COMMUNICATOR_IMPL_H_
