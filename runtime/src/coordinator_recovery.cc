// Coordinator restart recovery: how a CoordinatorState that restarted takes the job back, from its
// state file (RestoreLocked) and from the views its ranks report in their heartbeats
// (AdoptRankViewLocked), and what it persists (Snapshot). See coordinator_persistence.h for the
// file and README "Coordinator restarts" for the choice of both mechanisms.
//
// Invariant: the membership epoch never goes down. A reloaded file can be older than the last
// view the ranks saw (the coordinator died between a change and its write); a rank's heartbeat
// then carries the newer view, and the coordinator takes it, because every view of one epoch is
// the same view (one coordinator made it). Views are only taken while the coordinator is
// recovering (it never saw rendezvous itself, or it reloaded its file less than a failure timeout
// ago), so a running job's membership is the failure detector's and the launcher's alone.
#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator_state.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::runtime {

absl::Duration CoordinatorState::AdoptWindow() const {
  return failure_timeout_ == absl::InfiniteDuration() ? absl::Minutes(1) : failure_timeout_;
}

absl::StatusOr<Membership> CoordinatorState::Heartbeat(int rank) {
  return Heartbeat(rank, RankReport());
}

void CoordinatorState::NoteChangeLocked() {
  if (writer_ != nullptr) writer_->Notify();
}

CoordinatorSnapshot CoordinatorState::Snapshot() const {
  absl::MutexLock lock(&mu_);
  CoordinatorSnapshot snapshot;
  snapshot.rendezvous_complete = rendezvous_complete_;
  snapshot.membership = MembershipLocked();
  for (const auto& a : addresses_) snapshot.data_addresses.push_back(a.value_or(""));
  snapshot.kv.assign(kv_.begin(), kv_.end());
  for (const auto& [name, barrier] : barriers_) {
    if (barrier.generation > 0) snapshot.barriers.emplace_back(name, barrier.generation);
  }
  return snapshot;
}

void CoordinatorState::FlushSnapshot() {
  if (writer_ != nullptr) writer_->Flush();
}

void CoordinatorState::RestoreAdmissionsLocked(const Membership& m) {
  // Without them every restarted process (incarnation >= 1) would be refused as stale by a
  // coordinator that restarted (it would expect incarnation 0), and the job would fall apart.
  for (const AdmittedRank& a : m.admitted) {
    if (a.rank < 0 || a.rank >= options_.world_size || dead_.contains(a.rank)) continue;
    int64_t& incarnation = incarnations_[a.rank];
    if (a.incarnation < incarnation) continue;  // never backwards
    incarnation = a.incarnation;
    admitted_[a.rank] = a;
  }
}

void CoordinatorState::RestoreLocked(CoordinatorSnapshot snapshot) {
  const absl::Time now = absl::Now();
  rendezvous_complete_ = snapshot.rendezvous_complete;
  epoch_ = snapshot.membership.epoch;
  dead_.clear();
  for (DeadRank& d : snapshot.membership.dead_ranks) dead_[d.rank] = std::move(d);
  RestoreAdmissionsLocked(snapshot.membership);
  for (int r = 0; r < options_.world_size; ++r) {
    std::string& a = snapshot.data_addresses[r];
    if (!a.empty()) addresses_[r] = std::move(a);
    // Every rank gets a full failure timeout to reach the restarted coordinator.
    last_seen_[r] = now;
  }
  for (auto& [key, value] : snapshot.kv) {
    NoteKvWriteLocked(key);  // Transient keys live one lifetime from now.
    PutKvLocked(std::move(key), std::move(value));
  }
  for (const auto& [name, generation] : snapshot.barriers) barriers_[name].generation = generation;
  adopt_views_until_ = now + AdoptWindow();
}

absl::Status CoordinatorState::AdoptRankViewLocked(int rank, const RankReport& report) {
  const Membership& view = report.known_membership;
  const absl::Time now = absl::Now();
  const bool fresh = !rendezvous_complete_;
  // A coordinator that completed rendezvous itself, or reloaded its file long ago, keeps its own
  // view; a rank that knows a later epoch then sees a lower one and reports it
  // (coordinator_client.h).
  if (!fresh && now >= adopt_views_until_) return absl::OkStatus();
  if (fresh && view.epoch == 0) return absl::OkStatus();  // Not from a running job.
  if (report.world_size != 0 && report.world_size != options_.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank, " says the world size is ",
                                                   report.world_size, " but job ", options_.job_id,
                                                   " has ", options_.world_size, " ranks"));
  }
  if (report.data_address.size() > kMaxAddressBytes) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank, "'s data address is ",
                                                   report.data_address.size(), " bytes, over ",
                                                   kMaxAddressBytes));
  }
  bool changed = false;
  if (view.epoch > epoch_) {
    RETURN_IF_ERROR(ValidateMembership(
        view, options_.world_size,
        absl::StrCat("rank ", rank,
                     " reported a bad membership view to the restarted coordinator")));
    epoch_ = view.epoch;
    dead_.clear();
    for (const DeadRank& d : view.dead_ranks) dead_[d.rank] = d;
    RestoreAdmissionsLocked(view);
    if (fresh) {
      // The job ran before this coordinator started: its rendezvous is over. Ranks that do not
      // reach it within a failure timeout are declared dead as usual.
      rendezvous_complete_ = true;
      for (absl::Time& t : last_seen_) t = now;
      adopt_views_until_ = now + AdoptWindow();
    }
    changed = true;
  }
  // The restarted coordinator learns the data addresses again from the heartbeats (a rank that
  // rejoins later needs them).
  if (!report.data_address.empty() && !addresses_[rank].has_value()) {
    addresses_[rank] = report.data_address;
    changed = true;
  }
  if (changed) {
    NoteChangeLocked();
    cv_.SignalAll();
  }
  return absl::OkStatus();
}

}  // namespace crosslink::runtime
