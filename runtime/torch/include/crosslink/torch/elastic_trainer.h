// ElasticTrainer: the elastic training loop of communicator.h (TorchFT's pattern) around a
// program's step, so that examples and users do not repeat it. Each Step():
//   1. Quorum (retried on kAborted): the step's membership epoch and live ranks, handed to the
//      TensorCollectives (SetLiveRanks: the lowest live rank decides for the others; the
//      Communicator never rebuilds the mesh in mid-step);
//   2. when the quorum says state_sync_due (a death, an admission, the first step): Pack the
//      ElasticState, SyncState (a rejoined rank receives every live rank's common state from the
//      lowest one that holds it; every rank's hash is checked), Unpack on the ranks that received
//      it, then the on_state_received hook (a program re-derives what follows from the state);
//      kAborted: back to 1;
//   3. the program's step function, which runs the step's collectives (GradientBucketer,
//      ProcessGroupCrosslink, DiLoCo, TensorCollectives) and returns the first failure (kAborted
//      when a rank died in them: the survivors carry on);
//   4. ShouldCommit(step's status is OK): true on every live rank alike, and then the program's
//      commit function runs (the optimiser's step); false: the step is dropped on every survivor.
// The program advances its counters (data position) after every Step, committed or not, so
// every live rank stays at the same position; registering them in the ElasticState gives them to
// a rejoined rank.
//
// Errors: the step function's own failures other than kAborted (and kDeadlineExceeded or
// kUnavailable that a death explains, which the Communicator reports as kAborted) are returned
// as they are: they are not membership changes, so the job cannot simply go on. Quorum,
// SyncState and ShouldCommit failures other than kAborted (kDeadlineExceeded, kUnavailable: the
// coordinator is gone; kInvalidArgument: this rank's state layout differs from the job's, with
// both layouts described; kDataLoss: ranks' states differ after a sync) are returned too.
// kAborted from Step itself means the quorum kept moving for options.max_attempts tries.
//
// Blocking: Step blocks for the quorum, the sync, the step function and the commit, each bounded
// by options.timeout. Thread-safety: none; call from the training thread, which must also be the
// one issuing the step's collectives (the order rule of communicator.h). Ownership: shares the
// TensorCollectives; borrows the ElasticState, which must outlive the trainer.
#ifndef CROSSLINK_TORCH_ELASTIC_TRAINER_H_
#define CROSSLINK_TORCH_ELASTIC_TRAINER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/torch/elastic_state.h"
#include "crosslink/torch/tensor_collectives.h"

namespace crosslink::torch {

struct ElasticTrainerOptions {
  // Bounds each Quorum, SyncState and ShouldCommit call. A restarted rank is admitted at the
  // next quorum after it registered, so this also bounds how long the live ranks wait for each
  // other at a step boundary (a slow rank's compute time included).
  absl::Duration timeout = absl::Seconds(120);
  // Quorum or SyncState attempts per step while the membership keeps moving (each a kAborted).
  int max_attempts = 20;
  // Called on the ranks that received the state in a sync, after it was unpacked (e.g. to
  // rebuild a data loader's position from the counters). May be empty.
  std::function<absl::Status()> on_state_received;
};

// What one Step did.
struct ElasticStepResult {
  bool committed = false;
  absl::Status step_status;  // the step function's status (kAborted when a rank died in it)
  int64_t epoch = 0;         // the quorum's membership epoch
  std::vector<int> live_ranks;
  bool synced = false;          // a SyncState ran in this step
  bool received_state = false;  // this rank received the state in it
};

class ElasticTrainer {
 public:
  // The communicator must be elastic (kFailedPrecondition from the first Step otherwise).
  ElasticTrainer(std::shared_ptr<TensorCollectives> collectives, ElasticState* state,
                 ElasticTrainerOptions options = {});
  ElasticTrainer(const ElasticTrainer&) = delete;
  ElasticTrainer& operator=(const ElasticTrainer&) = delete;

  // One step of the loop above. `step` runs the step's computation and collectives and returns
  // their first failure; `commit` applies the step (the optimiser step) and may be empty.
  absl::StatusOr<ElasticStepResult> Step(const std::function<absl::Status()>& step,
                                         const std::function<void()>& commit);

  // Replaces options.on_state_received (a program that registers its state after the trainer
  // was made).
  void set_on_state_received(std::function<absl::Status()> hook) {
    options_.on_state_received = std::move(hook);
  }

  // Membership changes since the job started (deaths and admissions: the quorum's epoch - 1, the
  // same on every live rank, a rejoined one included). 0 before the first Step.
  int64_t membership_changes() const;
  // Steps whose ShouldCommit said false on this rank, and SyncState calls that moved state.
  int64_t dropped_steps() const { return dropped_steps_; }
  int64_t state_transfers() const { return state_transfers_; }
  // The last quorum's lowest live rank (the one to print a job's figures), 0 before any.
  int leader() const { return collectives_->decider(); }
  const std::vector<int>& live_ranks() const { return live_ranks_; }
  int64_t epoch() const { return epoch_; }

 private:
  // Quorum and, when due, SyncState, retried while the membership moves.
  absl::Status AgreeAndSync(ElasticStepResult& result);

  std::shared_ptr<TensorCollectives> collectives_;
  ElasticState* state_;
  ElasticTrainerOptions options_;
  int64_t epoch_ = 0;
  std::vector<int> live_ranks_;
  int64_t dropped_steps_ = 0;
  int64_t state_transfers_ = 0;
};

}  // namespace crosslink::torch

#endif  // CROSSLINK_TORCH_ELASTIC_TRAINER_H_
