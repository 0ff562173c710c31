#include "crosslink/torch/elastic_trainer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::torch {

ElasticTrainer::ElasticTrainer(std::shared_ptr<TensorCollectives> collectives, ElasticState* state,
                               ElasticTrainerOptions options)
    : collectives_(std::move(collectives)), state_(state), options_(std::move(options)) {}

int64_t ElasticTrainer::membership_changes() const { return std::max<int64_t>(0, epoch_ - 1); }

absl::Status ElasticTrainer::AgreeAndSync(ElasticStepResult& result) {
  runtime::Communicator& comm = collectives_->communicator();
  const int rank = comm.rank();
  absl::Status last = absl::AbortedError("no attempt");
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    absl::StatusOr<runtime::Quorum> quorum = comm.Quorum(absl::Now() + options_.timeout);
    if (!quorum.ok()) {
      if (quorum.status().code() != absl::StatusCode::kAborted) return quorum.status();
      last = quorum.status();
      continue;
    }
    epoch_ = quorum->epoch;
    live_ranks_ = quorum->live_ranks;
    result.epoch = quorum->epoch;
    result.live_ranks = quorum->live_ranks;
    collectives_->SetLiveRanks(quorum->live_ranks);
    if (!quorum->state_sync_due) return absl::OkStatus();

    RETURN_IF_ERROR(state_->Pack());
    const bool had_state = comm.has_state();
    absl::StatusOr<runtime::StateSyncReport> report =
        comm.SyncState(state_->Buffers(), absl::Now() + options_.timeout);
    if (!report.ok()) {
      if (report.status().code() == absl::StatusCode::kAborted) {
        last = report.status();
        continue;
      }
      if (report.status().code() == absl::StatusCode::kInvalidArgument) {
        return absl::InvalidArgumentError(absl::StrCat(
            report.status().message(), "; this rank's state layout: ", state_->DescribeLayout()));
      }
      return report.status();
    }
    result.synced = true;
    if (!report->receivers.empty()) ++state_transfers_;
    if (!had_state && comm.has_state()) {
      // This rank received the state: its objects take it now.
      result.received_state = true;
      RETURN_IF_ERROR(state_->Unpack());
      if (options_.on_state_received) RETURN_IF_ERROR(options_.on_state_received());
    }
    return absl::OkStatus();
  }
  return absl::AbortedError(absl::StrCat("rank ", rank, ": the membership kept moving through ",
                                         options_.max_attempts,
                                         " quorum attempts; last: ", last.message()));
}

absl::StatusOr<ElasticStepResult> ElasticTrainer::Step(const std::function<absl::Status()>& step,
                                                       const std::function<void()>& commit) {
  runtime::Communicator& comm = collectives_->communicator();
  ElasticStepResult result;
  RETURN_IF_ERROR(AgreeAndSync(result));

  result.step_status = step();
  // A failure no death explains is this rank's own problem (a bug, a broken communicator): vote
  // against the step, so the others drop it too and do not wait for this rank, then report it.
  const bool membership_moved = result.step_status.code() == absl::StatusCode::kAborted;
  absl::StatusOr<bool> committed =
      comm.ShouldCommit(result.step_status.ok(), absl::Now() + options_.timeout);
  if (!result.step_status.ok() && !membership_moved) return result.step_status;
  if (!committed.ok()) return committed.status();
  result.committed = *committed;
  if (result.committed) {
    if (commit) commit();
  } else {
    ++dropped_steps_;
  }
  return result;
}

}  // namespace crosslink::torch
