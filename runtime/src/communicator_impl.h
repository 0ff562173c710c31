// Private state of a Communicator, shared by communicator.cc (joining the job) and
// communicator_collectives.cc (running collectives). Not a public header.
#ifndef CROSSLINK_RUNTIME_SRC_COMMUNICATOR_IMPL_H_
#define CROSSLINK_RUNTIME_SRC_COMMUNICATOR_IMPL_H_

#include <atomic>
#include <cstddef>
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
  // it replaces after a cut. Fixed after Create, except that an elastic communicator replaces
  // them, under collective_mu, when it rebuilds its mesh (communicator_elastic.cc).
  std::vector<std::unique_ptr<collectives::Connection>> connections;
  // Connections an elastic mesh rebuild replaced: closed, but kept until the communicator is
  // destroyed, because the heartbeat thread may still hold raw pointers to them. Touched under
  // collective_mu only.
  std::vector<std::unique_ptr<collectives::Connection>> graveyard;
  // How connections travel (data_transport.h SummarizeTransports), fixed after Create.
  std::string transport_summary;
  // Published under state_mu once Create has finished the mesh (heartbeat callbacks start before
  // that, so they read it only when connections_ready is set); replaced under state_mu by an
  // elastic mesh rebuild, so readers outside collective_mu copy it under state_mu.
  std::vector<collectives::Connection*> raw_connections ABSL_GUARDED_BY(state_mu);
  bool connections_ready ABSL_GUARDED_BY(state_mu) = false;
  // emulators[p]: the LinkEmulator of connections[p], or nullptr (ideal job, p == rank, or a
  // resumable link, whose emulators the resumer tracks as they are replaced). After Create its
  // entries change only under state_mu (an elastic mesh rebuild), which outages_met() holds.
  std::vector<collectives::LinkEmulator*> emulators;
  // Outages met by the emulators of connections a mesh rebuild retired.
  int64_t retired_outages ABSL_GUARDED_BY(state_mu) = 0;
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
  // Orbit seconds the last contact-aware allreduce took here (the decider's sets the planning
  // guard).
  double last_contact_aware_orbit_s ABSL_GUARDED_BY(collective_mu) = 0;

  // Elastic membership (CommunicatorOptions::elastic; communicator_elastic.cc). The mesh was built
  // for membership epoch mesh_epoch, whose live ranks are `live` (ascending; every rank until a
  // death). Fixed when !elastic.
  bool elastic = false;
  std::vector<std::string> data_addresses;  // every rank's, from Register, for redialling
  int64_t mesh_epoch ABSL_GUARDED_BY(collective_mu) = 0;
  // mesh_epoch as the heartbeat thread may read it (it never takes collective_mu): a view of a
  // later epoch ends the mesh's links (OnMembershipChange).
  int64_t links_epoch ABSL_GUARDED_BY(state_mu) = 0;
  std::vector<int> live ABSL_GUARDED_BY(collective_mu);
  // Quorum() calls that succeeded (for messages), the epoch of the last one (0: none yet) and
  // ShouldCommit() calls (they name the votes' keys, so every rank must make the same calls).
  uint64_t quorums ABSL_GUARDED_BY(collective_mu) = 0;
  int64_t quorum_epoch ABSL_GUARDED_BY(collective_mu) = 0;
  uint64_t commits ABSL_GUARDED_BY(collective_mu) = 0;
  // Rejoin and state sync (state_transfer.cc). The epoch of the last successful Quorum, or of the
  // mesh Create built (0 for a rejoined process): Quorum::state_sync_due is an epoch other than
  // it. SyncState calls in the current quorum epoch (they name its keys). Whether this rank holds
  // training state (false for a rejoined process until a SyncState succeeded), and the staging
  // copy of a transfer: the state with hash staged_hash, of which staged_bytes arrived in order.
  int64_t sync_base_epoch ABSL_GUARDED_BY(collective_mu) = 0;
  uint64_t state_syncs ABSL_GUARDED_BY(collective_mu) = 0;
  std::atomic<bool> has_state{true};
  std::vector<std::byte> staged ABSL_GUARDED_BY(collective_mu);
  uint64_t staged_hash ABSL_GUARDED_BY(collective_mu) = 0;
  size_t staged_bytes ABSL_GUARDED_BY(collective_mu) = 0;

  mutable absl::Mutex state_mu;
  // The first failure of a collective; later collectives fail with kFailedPrecondition.
  absl::Status broken ABSL_GUARDED_BY(state_mu);
  Membership membership ABSL_GUARDED_BY(state_mu);
  CollectiveStats last_stats ABSL_GUARDED_BY(state_mu);
};

// The rank that decides the agreements of the next collective (decider_agreement.h): the lowest
// live rank of the mesh's membership epoch (rank 0 until it dies).
inline int DeciderRank(const Communicator::Impl& impl)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.collective_mu) {
  return impl.live.empty() ? 0 : impl.live.front();
}

// Whether the coordinator knows of a death after membership epoch `since_epoch`: at once when
// impl.membership does, else asking the coordinator (which hears of a death from the launcher
// within milliseconds, before the heartbeats do) for at most half a second, never past
// `deadline`; a newer view it returns is stored in impl.membership. False when it reports none by
// then or cannot be reached.
bool AwaitDeathReport(Communicator::Impl& impl, CoordinatorClient& client, int64_t since_epoch,
                      absl::Time deadline);

// Elastic mode (communicator_elastic.cc): when the coordinator's membership epoch (the newest the
// heartbeats or any coordinator call of this rank saw) differs from impl.mesh_epoch, rebuilds the
// mesh among the live ranks of the current epoch: closes the old connections, passes a coordinator
// barrier for the epoch with every live rank, reconnects every live pair (the lower rank dials)
// and publishes the new connections. OK at once when nothing changed or !impl.elastic.
// Errors: kAborted when the membership moved again, before or while connecting (the next call
// retries), kAborted when this rank was declared dead, kDeadlineExceeded, kUnavailable (a peer
// cannot be reached).
absl::Status EnsureMesh(Communicator& comm, Communicator::Impl& impl, absl::Time deadline)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.collective_mu);

// Elastic mode: closes every connection of the current mesh with `why` and moves it to
// impl.graveyard, so that a survivor still running a collective over the old mesh fails at once
// instead of waiting for its deadline; EnsureMesh then builds the new one. Does nothing to an
// already retired mesh.
void RetireMesh(Communicator& comm, Communicator::Impl& impl, const absl::Status& why)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.collective_mu);

// The full mesh among `members` (ascending, this rank included): connects to the members above
// this rank and accepts the ones below (through impl.resumer when it owns the accept loop), into
// impl.connections, then wraps new plain connections in LinkEmulators when the job plays a
// scenario (impl.timelines). Create and the elastic rebuild both use it.
absl::Status ConnectMesh(Communicator& comm, Communicator::Impl& impl,
                         const std::vector<int>& members, absl::Time deadline);
// Replaces impl.connections[peer] by a LinkEmulator that owns it and plays impl.timelines[peer]
// on the communicator's clock, with impl.emulator_options; records it in impl.emulators.
void EmulateLink(Communicator& comm, Communicator::Impl& impl, int peer);

// The resolved spec of a contact-aware allreduce (CollectiveOptions::contact_aware with a
// scenario): every rank plans at the orbit time the decider read on entering collective
// `sequence`, agreed through DeciderAgreement (communicator_planning.cc), from the predicted
// contact plan.
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
  // decided: run `spec`, the decider's decision resolved (a subset of participants, or every
  // live rank with the algorithm the decider chose). Otherwise the ordinary collective runs.
  bool decided = false;
  collectives::CollectiveSpec spec;
  std::string description;  // "contributors {0,1,2}, 3 of 4", for messages
};
// Agrees with the other ranks (through the coordinator, before any data moves) on who takes part
// in allreduce `sequence` of `spec` (as the caller asked it; its participants, when set, are the
// live ranks of an elastic job, the others count as dead). Blocks until the decider's decision,
// at the latest `deadline`.
PartialAllreduce PreparePartialAllreduce(Communicator& comm, Communicator::Impl& impl,
                                         const collectives::CollectiveSpec& spec,
                                         int min_participants, uint64_t sequence, absl::Time start,
                                         absl::Time deadline)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(impl.collective_mu);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_COMMUNICATOR_IMPL_H_
