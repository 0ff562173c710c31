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

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "communicator_reconnect.h"
#include "crosslink/collectives/cost_model.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/emulation/link_emulator.h"
#include "crosslink/collectives/emulation/link_resumer.h"
#include "crosslink/collectives/emulation/link_timeline.h"
#include "crosslink/collectives/plan.h"
#include "crosslink/collectives/transport/transport.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {

class Communicator::Impl {
 public:
  // The transport context keeps the accept thread; it outlives the connections it made.
  std::unique_ptr<collectives::Context> context;
  // Resumes cut links (communicator_reconnect.h); nullptr unless the job resumes. Declared
  // between the context it accepts on and the connections that call it, for destruction order.
  std::unique_ptr<collectives::LinkResumer> resumer;
  // connections[p]: this rank's end to rank p (nullptr for p == rank). Either a TCP connection, a
  // LinkEmulator owning one, or (cut mode with resume) a ResumableConnection over emulators that
  // it replaces after a cut. Fixed after Create, so collectives read it without the lock.
  std::vector<std::unique_ptr<collectives::Connection>> connections;
  // How connections travel (data_transport.h SummarizeTransports), fixed after Create.
  std::string transport_summary;
  // Published under state_mu once Create has finished the mesh (heartbeat callbacks start before
  // that, so they read it only when connections_ready is set); fixed afterwards.
  std::vector<collectives::Connection*> raw_connections;
  bool connections_ready ABSL_GUARDED_BY(state_mu) = false;
  // emulators[p]: the LinkEmulator of connections[p], or nullptr (ideal job, p == rank, or a
  // resumable link, whose emulators the resumer tracks as they are replaced).
  std::vector<collectives::LinkEmulator*> emulators;
  // timelines[p]: the truth of the link rank -> p, for the cost model; nullptr when ideal.
  std::vector<std::shared_ptr<const collectives::LinkTimeline>> timelines;
  // The options of every LinkEmulator of this rank, those the resumer makes later included.
  collectives::LinkEmulatorOptions emulator_options;
  // The predicted contact plan (nullptr when ideal), for the contact-aware planner.
  std::shared_ptr<const linkmodel::ContactPlan> predicted_plan;
  // Contact-aware allreduce (communicator_planning.cc): plans by (algorithm, rank order, count,
  // type, op, max_segment_bytes). The order search runs for every collective (milliseconds at 8
  // ranks); the plan for an order already seen is reused.
  using OrderedPlanKey = std::tuple<int, std::vector<int>, size_t, int, int, size_t>;
  std::map<OrderedPlanKey, collectives::Plan> ordered_plans ABSL_GUARDED_BY(collective_mu);
  // Orbit seconds the last contact-aware allreduce took here (rank 0's sets the planning guard).
  double last_contact_aware_orbit_s ABSL_GUARDED_BY(collective_mu) = 0;

  // kAuto's cost hints, the same on every rank (Communicator::AutoAlgorithmHints), computed once.
  absl::once_flag job_hints_once;
  collectives::LinkCostHints job_hints;

  // Held for the whole of a collective: one at a time.
  absl::Mutex collective_mu;
  uint64_t next_sequence ABSL_GUARDED_BY(collective_mu) = 1;
  // Plans by (kind, algorithm, count, type, op, root, max_segment_bytes, compression); the
  // executor needs only this rank's steps, and a training loop repeats the same few shapes.
  using PlanKey = std::tuple<int, int, size_t, int, int, int, size_t, int>;
  std::map<PlanKey, collectives::Plan> plans ABSL_GUARDED_BY(collective_mu);

  mutable absl::Mutex state_mu;
  // The first failure of a collective; later collectives fail with kFailedPrecondition.
  absl::Status broken ABSL_GUARDED_BY(state_mu);
  Membership membership ABSL_GUARDED_BY(state_mu);
  CollectiveStats last_stats ABSL_GUARDED_BY(state_mu);
};

// A contact-aware allreduce's shape (communicator_planning.cc).
struct ContactAwareCall {
  collectives::AllreduceAlgorithm algorithm = collectives::AllreduceAlgorithm::kAuto;
  size_t count = 0;
  collectives::DataType type = collectives::DataType::kFloat32;
  collectives::ReduceOp op = collectives::ReduceOp::kSum;
  size_t max_segment_bytes = 0;
};

// The orbit time every rank plans collective `sequence` at (rank 0's clock) and the horizon guard
// (communicator_planning.cc; rank 0 passes guard_s, the others receive it), shared through the
// coordinator's key-value store. Blocks (ranks other than 0) until rank 0 publishes them or the
// deadline passes (kDeadlineExceeded).
struct PlanningTime {
  double t_s = 0;
  double guard_s = 0;
};
absl::StatusOr<PlanningTime> AgreeContactAwarePlanningTime(Communicator& comm, double guard_s,
                                                           uint64_t sequence, absl::Time deadline);

// The contact-aware plan for `call` at the agreed planning time (cached in impl; the pointer is
// valid until the next collective). Call with impl.collective_mu held and a scenario present.
// Errors: the key-value store's codes, and the planner's (kInvalidArgument, kUnavailable).
absl::StatusOr<const collectives::Plan*> ContactAwareAllreducePlan(
    Communicator& comm, Communicator::Impl& impl, const ContactAwareCall& call, uint64_t sequence,
    absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.collective_mu);

// A deadline-bounded partial allreduce (CollectiveOptions::min_participants > 0;
// communicator_partial.cc explains the protocol).
struct PartialAllreduceCall {
  // As the caller asked (CollectiveOptions::algorithm): kAuto lets rank 0 choose for everyone.
  collectives::AllreduceAlgorithm algorithm = collectives::AllreduceAlgorithm::kAuto;
  bool contact_aware = false;
  size_t count = 0;
  collectives::DataType type = collectives::DataType::kFloat32;
  collectives::ReduceOp op = collectives::ReduceOp::kSum;
  size_t max_segment_bytes = 512 << 10;
  int min_participants = 0;
};
struct PartialAllreduce {
  // Not OK: return it without running anything (left out, too few reachable, bad option), or,
  // when !mesh_in_step, after marking the communicator broken (the agreement itself failed).
  absl::Status status;
  bool mesh_in_step = true;
  // The decision, for CollectiveStats (every rank when the full collective runs).
  std::vector<bool> contributors;
  int participants = 0;
  // subset: this rank runs plan rank `index` of a participants-rank plan over `connections`
  // (connections[i]: to the rank of participant i); also set for a full collective whose
  // algorithm rank 0 chose. Otherwise the ordinary collective runs.
  bool subset = false;
  collectives::Plan plan;
  int index = -1;
  std::vector<collectives::Connection*> connections;
  std::string description;  // "contributors {0,1,2}, 3 of 4; ...", for messages
};
// Agrees with the other ranks (through the coordinator, before any data moves) on who takes part
// in allreduce `sequence`. Blocks until rank 0's decision, at the latest `deadline`.
PartialAllreduce PreparePartialAllreduce(Communicator& comm, Communicator::Impl& impl,
                                         const PartialAllreduceCall& call, uint64_t sequence,
                                         absl::Time start, absl::Time deadline);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_COMMUNICATOR_IMPL_H_
