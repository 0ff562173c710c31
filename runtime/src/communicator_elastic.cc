// Communicator: elastic membership (CommunicatorOptions::elastic; communicator.h says what a
// program sees). Three pieces:
//
// The mesh rebuild (EnsureMesh), before a collective whose membership epoch differs from the one
// the mesh was built for: every live rank closes its old connections (RetireMesh; already when a
// collective failed on the death, so that a survivor whose collective went on over the old mesh
// fails promptly; they are kept in Impl::graveyard: the heartbeat thread may still hold raw
// pointers to them), passes the coordinator barrier crosslink/elastic/mesh/<epoch> (with the
// epoch, so a further death aborts it on every rank alike), then the lower rank of every live pair
// dials the higher one (ConnectMesh, as Create does). The collectives then run with
// spec.participants = the live ranks (communicator_collectives.cc), whose plans the plan cache
// builds anew since the spec differs.
//
// A rebuild also restarts the collectives' sequence numbers at epoch * 2^40 + 1 on every live
// rank: a collective that met the death may have succeeded on some survivors and failed on others,
// and a program that goes on after a failure (as the training loop below does) would otherwise
// run collectives whose numbers differ between ranks.
//
// Quorum: admits restarted ranks waiting to rejoin (rank_admission.cc), a fresh membership view
// from the coordinator (the heartbeats may lag a death by an interval), the mesh rebuilt for it,
// then the coordinator barrier crosslink/quorum with the epoch: every live rank either passes it
// within the epoch or has it aborted (the coordinator's barrier refuses an arrival from a stale
// epoch and aborts the waiters when the epoch moves), so the retried calls of every rank meet in
// the next round. The barrier's name is the same every step (its rounds pair up in order, as any
// barrier's), so the coordinator's state does not grow with the steps.
//
// ShouldCommit: each rank writes its vote under crosslink/commit/<epoch>/<m>/<rank> (a transient
// key; m counts the calls in the quorum's epoch, so a rank admitted in it counts as the others),
// then passes the barrier crosslink/commit with the quorum's epoch, then reads the votes of every
// live rank. The barrier has the same all-or-none outcome as the quorum's, and every rank reads the
// same votes, so every live rank returns the same answer: false when the barrier was aborted (the
// epoch changed) or some vote is "0".
//
// Limits: a death during a rebuild's dials can leave a connection from the aborted attempt in the
// transport's accept queue; the retried rebuild may then accept that stale one, and the next
// collective fails (and breaks the communicator). With resume, the retirement first retires the
// resumer's links (LinkResumer::RetireLinks), so that a link still resuming towards a dead peer
// cannot take the connection a new process dials for the rebuilt mesh; the rebuilt links resume
// after later cuts as the first mesh's did.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {

void RetireMesh(Communicator& comm, Communicator::Impl& impl, const absl::Status& why) {
  // First, so that a retired link still resuming (its peer died, or the link was cut) cannot take
  // a connection the rebuilt mesh's link waits for (link_resumer.h).
  if (impl.resumer != nullptr) impl.resumer->RetireLinks();
  // Closing may wait for a resumable link's goodbye, so it happens outside state_mu.
  const size_t first_retired = impl.graveyard.size();
  {
    absl::MutexLock lock(&impl.state_mu);
    for (int p = 0; p < static_cast<int>(impl.connections.size()); ++p) {
      impl.collective.connections[p] = nullptr;
      if (impl.emulators[p] != nullptr) {
        impl.retired_outages += impl.emulators[p]->counters().outages_met;
        impl.emulators[p] = nullptr;
      }
      impl.raw_connections[p] = nullptr;
      if (impl.connections[p] != nullptr) impl.graveyard.push_back(std::move(impl.connections[p]));
    }
  }
  for (size_t i = first_retired; i < impl.graveyard.size(); ++i) impl.graveyard[i]->Close(why);
}

absl::Status EnsureMesh(Communicator& comm, Communicator::Impl& impl, absl::Time deadline) {
  if (!impl.elastic) return absl::OkStatus();
  const Membership membership = comm.membership();
  if (membership.epoch == impl.mesh_epoch) return absl::OkStatus();
  const int rank = comm.rank();
  if (const DeadRank* self = membership.FindDead(rank)) {
    return absl::AbortedError(
        absl::StrCat("rank ", rank, " was declared dead by the coordinator: ", self->reason));
  }
  const int64_t epoch = membership.epoch;
  const std::vector<int>& live = membership.alive_ranks;
  // Retire the old mesh (nothing left to retire when a failed collective or attempt did).
  RetireMesh(comm, impl,
             absl::AbortedError(
                 absl::StrCat("rank ", rank, " rebuilds its mesh for membership epoch ", epoch)));
  // A rank that came back as a new process listens elsewhere (rank_admission.cc). Only after the
  // retirement: a retired link's resume must never dial the new process.
  for (const AdmittedRank& admitted : membership.admitted) {
    if (admitted.rank == rank || admitted.rank < 0 ||
        admitted.rank >= static_cast<int>(impl.data_addresses.size()) ||
        impl.data_addresses[admitted.rank] == admitted.data_address) {
      continue;
    }
    impl.data_addresses[admitted.rank] = admitted.data_address;
    if (impl.resumer != nullptr) impl.resumer->SetPeerAddress(admitted.rank, admitted.data_address);
  }

  const std::string barrier = absl::StrCat("crosslink/elastic/mesh/", epoch);
  if (absl::Status s = comm.coordinator().Barrier(barrier, deadline, epoch); !s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("rank ", rank, ": rebuilding the mesh for epoch ", epoch,
                               " (live ranks [", absl::StrJoin(live, ", "), "]): ", s.message()));
  }
  if (absl::Status connected = ConnectMesh(comm, impl, live, deadline); !connected.ok()) {
    // A peer that died while this rank dialled or awaited it: the membership moved again.
    if (AwaitDeathReport(impl, comm.coordinator(), epoch, deadline)) {
      return absl::AbortedError(
          absl::StrCat("rank ", rank, ": rebuilding the mesh for epoch ", epoch,
                       ": the membership moved again: ", connected.message()));
    }
    return connected;
  }

  absl::MutexLock lock(&impl.state_mu);
  for (int p : live) {
    impl.collective.connections[p] = impl.connections[p].get();
    impl.raw_connections[p] = impl.connections[p].get();
  }
  impl.mesh_epoch = epoch;
  impl.links_epoch = epoch;
  impl.live = live;
  // The survivors may have left the last epoch at different sequence numbers (a collective that
  // met the death can succeed on some and fail on others); the new epoch numbers afresh, past
  // every number of the earlier epochs (each has 2^40 of its own), so agreement keys never repeat.
  impl.collective.sequence = (static_cast<uint64_t>(epoch) << 40) + 1;
  return absl::OkStatus();
}

absl::StatusOr<Quorum> Communicator::Quorum(absl::Time deadline) {
  if (!impl_->elastic) {
    return absl::FailedPreconditionError(
        absl::StrCat("rank ", rank_, ": Quorum needs an elastic communicator"));
  }
  absl::MutexLock collective_lock(&impl_->collective_mu);
  const std::string what = absl::StrCat("rank ", rank_, " quorum #", impl_->quorums + 1);
  {
    absl::MutexLock lock(&impl_->state_mu);
    if (!impl_->broken.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": the communicator failed earlier: ", impl_->broken.ToString()));
    }
  }
  // The heartbeats may hear of a death an interval late: ask the coordinator now.
  absl::StatusOr<Membership> fresh = client_->Heartbeat(deadline);
  // A step boundary: restarted ranks waiting to rejoin are admitted now, in a new epoch (any live
  // rank may ask; the first one's call admits them, the others' find the epoch moved).
  if (fresh.ok() && !fresh->joining_ranks.empty()) fresh = client_->Admit(fresh->epoch, deadline);
  if (!fresh.ok()) {
    return absl::Status(fresh.status().code(), absl::StrCat(what, ": ", fresh.status().message()));
  }
  {
    absl::MutexLock lock(&impl_->state_mu);
    if (fresh->epoch > impl_->membership.epoch) impl_->membership = *std::move(fresh);
  }
  if (absl::Status mesh = EnsureMesh(*this, *impl_, deadline); !mesh.ok()) {
    absl::Status status(mesh.code(), absl::StrCat(what, ": ", mesh.message()));
    if (mesh.code() != absl::StatusCode::kAborted) {
      absl::MutexLock lock(&impl_->state_mu);
      impl_->broken = status;
    }
    return status;
  }
  const int64_t epoch = impl_->mesh_epoch;
  const absl::Status agreed = client_->Barrier("crosslink/quorum", deadline, epoch);
  if (!agreed.ok()) {
    return absl::Status(agreed.code(),
                        absl::StrCat(what, " (epoch ", epoch, "): ", agreed.message()));
  }
  ++impl_->quorums;
  if (epoch != impl_->quorum_epoch) {
    // The per-epoch call counts that name coordinator keys start afresh with the epoch, so a
    // rank that joined in it counts as the others do.
    impl_->commits = 0;
    impl_->state_syncs = 0;
  }
  impl_->quorum_epoch = epoch;
  runtime::Quorum quorum;
  quorum.epoch = epoch;
  quorum.live_ranks = impl_->live;
  quorum.state_sync_due = epoch != impl_->sync_base_epoch;
  impl_->sync_base_epoch = epoch;
  for (const AdmittedRank& admitted : membership().admitted) {
    if (std::binary_search(quorum.live_ranks.begin(), quorum.live_ranks.end(), admitted.rank)) {
      quorum.rejoined_ranks.push_back(admitted.rank);
    }
  }
  std::sort(quorum.rejoined_ranks.begin(), quorum.rejoined_ranks.end());
  return quorum;
}

absl::StatusOr<bool> Communicator::ShouldCommit(bool local_ok, absl::Time deadline) {
  if (!impl_->elastic) {
    return absl::FailedPreconditionError(
        absl::StrCat("rank ", rank_, ": ShouldCommit needs an elastic communicator"));
  }
  absl::MutexLock collective_lock(&impl_->collective_mu);
  const uint64_t round = ++impl_->commits;
  const int64_t epoch = impl_->quorum_epoch != 0 ? impl_->quorum_epoch : impl_->mesh_epoch;
  const std::string what = absl::StrCat("rank ", rank_, " should-commit #", round);
  const std::string prefix = absl::StrCat("crosslink/commit/", epoch, "/", round, "/");
  const auto named = [&](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
  };
  if (absl::Status s = client_->KvSet(absl::StrCat(prefix, rank_), local_ok ? "1" : "0", deadline);
      !s.ok()) {
    return named(s);
  }
  const absl::Status barrier = client_->Barrier("crosslink/commit", deadline, epoch);
  // Aborted on every live rank alike: the membership moved since the quorum.
  if (barrier.code() == absl::StatusCode::kAborted) return false;
  if (!barrier.ok()) return named(barrier);
  // Passed within `epoch`, whose live ranks the mesh runs with (a newer epoch would have aborted
  // the barrier); each of them wrote its vote before arriving.
  for (int r : impl_->live) {
    absl::StatusOr<std::string> vote = client_->KvGet(absl::StrCat(prefix, r), deadline);
    if (!vote.ok()) return named(vote.status());
    if (*vote != "1") return false;
  }
  return true;
}

}  // namespace crosslink::runtime
