// Rank admission: how a restarted rank (same rank id, a new process) comes back into an elastic
// job, on the coordinator's side (CoordinatorState's Rejoin, Admit and the incarnation check).
//
// Why in two steps: the live ranks run collectives over a mesh built for one membership epoch; a
// newcomer may only enter between steps, when no collective is in flight. So Rejoin only records
// the new process (Membership::joining_ranks shows it to everyone's heartbeats) and waits; a live
// rank at its step boundary (Communicator::Quorum) calls Admit with the epoch it stands in, and
// the coordinator, if that epoch is still current, makes every waiting rank alive again in one new
// epoch. That epoch change aborts any barrier in flight, so every live rank's Quorum retries and
// meets the newcomer in the new epoch's mesh rebuild.
//
// Why incarnations: the old process of a rank may not be dead at all (a SIGSTOPped process that
// missed its heartbeats and is continued later). Once a new process was admitted for that rank,
// the old one's heartbeats and barrier arrivals must not count as the new one's: every request
// carries the incarnation its process was given (0 for the process that registered first) and a
// stale one is refused with kAborted, which ends that process's communicator.
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator_state.h"

namespace crosslink::runtime {

absl::Status CoordinatorState::CheckIncarnationLocked(int rank, int64_t incarnation) const {
  const auto it = incarnations_.find(rank);
  const int64_t current = it == incarnations_.end() ? 0 : it->second;
  if (incarnation == current) return absl::OkStatus();
  return absl::AbortedError(absl::StrCat(
      "rank ", rank, " incarnation ", incarnation, " is stale: the job admitted incarnation ",
      current, " of rank ", rank, " (a restarted process); this process must leave the job"));
}

void CoordinatorState::AddAdmissionsLocked(Membership& m) const {
  for (const auto& [rank, admitted] : admitted_) {
    if (!dead_.contains(rank)) m.admitted.push_back(admitted);
  }
  for (const auto& [rank, address] : joining_) m.joining_ranks.push_back(rank);
}

absl::StatusOr<CoordinatorState::Rejoined> CoordinatorState::Rejoin(int rank, int world_size,
                                                                    std::string data_address,
                                                                    absl::Time deadline,
                                                                    const CancelledFn& cancelled) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return ShutdownStatusLocked();
  if (rank < 0 || rank >= options_.world_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Rejoin: rank ", rank, " is out of range for world size ", options_.world_size));
  }
  if (world_size != options_.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", rank, " rejoins saying the world size is ", world_size, " but job ",
                     options_.job_id, " has ", options_.world_size, " ranks"));
  }
  if (data_address.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", rank, " rejoins without a data address"));
  }
  if (!rendezvous_complete_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rank ", rank, " rejoins before the job's rendezvous completed; it must Register instead"));
  }
  if (!dead_.contains(rank)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "rank ", rank, " is alive at membership epoch ", epoch_,
        ": a new process may rejoin only after the old one was declared dead (by the launcher or "
        "missed heartbeats); is a second process using the same RANK?"));
  }
  if (static_cast<int>(dead_.size()) == options_.world_size) {
    return absl::AbortedError(
        absl::StrCat("rank ", rank, " cannot rejoin job ", options_.job_id,
                     ": no rank is left to admit it (every rank has exited or died)"));
  }
  joining_[rank] = data_address;
  cv_.SignalAll();
  const int64_t old_incarnation = incarnations_[rank];
  const auto admitted = [&] {
    const auto it = incarnations_.find(rank);
    return it != incarnations_.end() && it->second > old_incarnation && !dead_.contains(rank) &&
           addresses_[rank] == data_address;
  };
  const WaitEnd end = WaitLocked(
      [&] { return admitted() || static_cast<int>(dead_.size()) == options_.world_size; }, deadline,
      cancelled);
  if (end == WaitEnd::kCondition && admitted()) {
    return Rejoined{.world = WorldLocked(), .incarnation = incarnations_[rank]};
  }
  // Withdraw, unless a newer process of the rank has taken the place meanwhile.
  if (const auto it = joining_.find(rank); it != joining_.end() && it->second == data_address) {
    joining_.erase(it);
  }
  switch (end) {
    case WaitEnd::kShutdown:
    case WaitEnd::kCancelled:
      return InterruptedStatusLocked(end, rank);
    case WaitEnd::kCondition:
      return absl::AbortedError(absl::StrCat(
          "rank ", rank, " cannot rejoin job ", options_.job_id,
          ": the other ranks exited or died while it waited; no rank is left to admit it"));
    case WaitEnd::kDeadline:
      break;
  }
  std::vector<int> alive;
  for (int r = 0; r < options_.world_size; ++r) {
    if (!dead_.contains(r)) alive.push_back(r);
  }
  return absl::DeadlineExceededError(
      absl::StrCat("rank ", rank, " was not admitted before its deadline: the live ranks [",
                   absl::StrJoin(alive, ", "),
                   "] did not reach a step boundary (Communicator::Quorum) at epoch ", epoch_,
                   "; is the job elastic (CROSSLINK_ELASTIC=1) and does its loop call Quorum?"));
}

absl::StatusOr<Membership> CoordinatorState::Admit(int rank, int64_t incarnation, int64_t epoch) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return ShutdownStatusLocked();
  if (absl::Status s = CheckRankLocked(rank); !s.ok()) return s;
  if (absl::Status s = CheckIncarnationLocked(rank, incarnation); !s.ok()) return s;
  if (!rendezvous_complete_ || epoch != epoch_ || joining_.empty()) return MembershipLocked();
  ++epoch_;
  const absl::Time now = absl::Now();
  for (auto& [joiner, address] : joining_) {
    dead_.erase(joiner);
    addresses_[joiner] = address;
    last_seen_[joiner] = now;  // failure detection restarts for the new process now
    const int64_t incarnation_now = ++incarnations_[joiner];
    admitted_[joiner] = AdmittedRank{
        .rank = joiner, .epoch = epoch_, .incarnation = incarnation_now, .data_address = address};
  }
  joining_.clear();
  // The new epoch and the incarnations go to the state file: a coordinator restarted from it must
  // not refuse the admitted processes as stale.
  NoteChangeLocked();
  cv_.SignalAll();
  return MembershipLocked();
}

}  // namespace crosslink::runtime
