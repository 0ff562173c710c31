// Private state of a Communicator, shared by communicator.cc (joining the job) and
// communicator_collectives.cc (running collectives). Not a public header.
#ifndef CROSSLINK_RUNTIME_SRC_COMMUNICATOR_IMPL_H_
#define CROSSLINK_RUNTIME_SRC_COMMUNICATOR_IMPL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "communicator_reconnect.h"
#include "crosslink/collectives/collective_context.h"
#include "crosslink/collectives/collective_spec.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/emulation/link_emulator.h"
#include "crosslink/collectives/emulation/link_resumer.h"
#include "crosslink/collectives/emulation/link_timeline.h"
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
  // Held for the whole of a collective: one at a time.
  absl::Mutex collective_mu;
  // The group the collectives run in (collective_context.h): this rank, the mesh (the
  // connections above), the sequence number of the next collective (the first is 1), kAuto's
  // link hints (the same on every rank: Create computes them from the true plan at the clock's
  // starting orbit time) and the plan cache. Set up at the end of Create.
  collectives::CollectiveContext collective ABSL_GUARDED_BY(collective_mu);
  // Orbit seconds the last contact-aware allreduce took here (rank 0's sets the planning guard).
  double last_contact_aware_orbit_s ABSL_GUARDED_BY(collective_mu) = 0;

  mutable absl::Mutex state_mu;
  // The first failure of a collective; later collectives fail with kFailedPrecondition.
  absl::Status broken ABSL_GUARDED_BY(state_mu);
  Membership membership ABSL_GUARDED_BY(state_mu);
  CollectiveStats last_stats ABSL_GUARDED_BY(state_mu);
};

// The resolved spec of a contact-aware allreduce (CollectiveOptions::contact_aware with a
// scenario): every rank plans at the orbit time rank 0 read on entering collective `sequence`,
// agreed through Rank0Agreement (communicator_planning.cc), from the predicted contact plan.
// Call with impl.collective_mu held. Errors: the agreement's codes, and the planner's
// (kInvalidArgument, kUnavailable).
absl::StatusOr<collectives::CollectiveSpec> ResolveContactAwareSpec(
    Communicator& comm, Communicator::Impl& impl, const collectives::CollectiveSpec& spec,
    uint64_t sequence, absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.collective_mu);

// A deadline-bounded partial allreduce (CollectiveOptions::min_participants > 0;
// communicator_partial.cc explains the protocol).
struct PartialAllreduce {
  // Not OK: return it without running anything (left out, too few reachable, bad option), or,
  // when !mesh_in_step, after marking the communicator broken (the agreement itself failed).
  absl::Status status;
  bool mesh_in_step = true;
  // The decision, for CollectiveStats (every rank when the full collective runs).
  std::vector<bool> contributors;
  int participants = 0;
  // decided: run `spec`, rank 0's decision resolved (a subset of participants, or every rank
  // with the algorithm rank 0 chose). Otherwise the ordinary collective runs.
  bool decided = false;
  collectives::CollectiveSpec spec;
  std::string description;  // "contributors {0,1,2}, 3 of 4", for messages
};
// Agrees with the other ranks (through the coordinator, before any data moves) on who takes part
// in allreduce `sequence` of `spec` (as the caller asked it). Blocks until rank 0's decision, at
// the latest `deadline`.
PartialAllreduce PreparePartialAllreduce(Communicator& comm, Communicator::Impl& impl,
                                         const collectives::CollectiveSpec& spec,
                                         int min_participants, uint64_t sequence, absl::Time start,
                                         absl::Time deadline);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_COMMUNICATOR_IMPL_H_
