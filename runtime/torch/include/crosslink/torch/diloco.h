// DiLoCo: the outer loop of DiLoCo (Douillard et al., "DiLoCo: Distributed Low-Communication
// Training of Language Models") for the libtorch C++ frontend. Each rank trains its own copy of
// the model with its own inner optimiser (typically AdamW) and talks to the others only every
// H inner steps, which is what makes training over crosslinks with minutes-long outages workable:
// per-step gradient allreduce moves the model's size every step, DiLoCo once per H steps.
//
// The sync (every rank at the same step): pseudo-gradient = global copy - local parameters,
// averaged over the ranks with one allreduce (kAvg) of one flat buffer, in fp32 or, with
// wire_dtype kBFloat16, cast to bf16 for the wire and back (half the bytes, bf16 precision on
// the average). The outer optimiser is SGD with Nesterov momentum (PyTorch's formulation):
//   b = momentum * b + g;   global -= outer_lr * (g + momentum * b)
// and the new global copy is copied into the local parameters. With outer_lr 1 and momentum 0
// the global copy becomes the average of the ranks' parameters (with H = 1 and plain SGD inner
// steps: synchronous data-parallel training).
//
// Contact-window placement: with a scenario (communicator.scenario() != nullptr) and
// max_shift_steps S > 0, the sync due at step k*H may run at any step in [k*H - S, k*H + S]. At
// the first step of that window rank 0 estimates the orbit time at which the sync would start
// after each candidate step (orbit now + steps ahead x mean measured inner-step wall time x the
// scenario clock's time scale), asks PlaceSync (below) for the candidate at which every hop of
// the rank-order ring among the ranks' satellites is up in the PREDICTED contact plan for at
// least the last sync's duration (in orbit seconds), and broadcasts its choice (one int64) to
// the others; so the decision uses rank 0's data and every rank takes it. Without a scenario or
// with S = 0 the sync runs at k*H on every rank and no broadcast happens.
//
// Blocking: AfterInnerStep blocks for the sync's collectives when one runs (bounded by
// options.sync_timeout per collective), otherwise returns at once. Thread-safety: none; call it
// from the training thread only. Ownership: holds references to the parameters (it writes
// their data in place) and a share of the TensorCollectives, which must be the one every other
// collective of the job goes through (tensor_collectives.h).
// Elastic jobs (options.elastic; elastic_trainer.h): a sync's collectives are those of the
// trainer's step, which may be dropped on every survivor (ShouldCommit false) after they
// succeeded here. So the outer update is held back: AfterInnerStep reports that a sync's
// allreduce ran, and the program calls CommitSync() when the step commits (the update is applied
// and the local parameters take the new global copy) or DropSync() when it does not (nothing
// changes and the sync runs again after the next inner step). The decisions (placement) come
// from the quorum's lowest live rank instead of rank 0, averages are over the live ranks, and
// AddToState registers the state every live rank holds alike (global copy, momentum, the sync
// schedule and counters) for a rejoined rank, which calls OnStateReceived() to start its local
// model from the global copy (its inner optimiser starts afresh: the ranks' inner states differ
// by design and are not transferred).
//
// Errors: kInvalidArgument from Create (bad options, no parameters, unsupported tensors, mixed
// devices) and from AfterInnerStep (steps out of order); kInternal when rank 0's broadcast
// choice lies outside this rank's window (the ranks' options or steps differ); the collectives'
// codes (communicator.h) from a failed sync, after which the job is out of step (treat it as
// fatal).
#ifndef CROSSLINK_TORCH_DILOCO_H_
#define CROSSLINK_TORCH_DILOCO_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/linkmodel/contact_plan.h"
#include "crosslink/torch/elastic_state.h"
#include "crosslink/torch/tensor_collectives.h"

namespace crosslink::torch {

enum class DiLoCoWireDtype { kFloat32, kBFloat16 };

struct DiLoCoOptions {
  // H: inner steps between syncs (>= 1).
  int64_t inner_steps = 500;
  // Outer SGD: learning rate (> 0) and Nesterov momentum in [0, 1). The paper's 0.7 / 0.9.
  double outer_lr = 0.7;
  double outer_momentum = 0.9;
  // Dtype of the pseudo-gradient allreduce on the wire.
  DiLoCoWireDtype wire_dtype = DiLoCoWireDtype::kFloat32;
  // How many inner steps a sync may move early or late to meet a contact window; 2 * S < H so
  // that consecutive windows do not overlap. Ignored without a scenario.
  int64_t max_shift_steps = 0;
  // Each collective of a sync (placement broadcast, allreduce) fails with kDeadlineExceeded after
  // this long.
  absl::Duration sync_timeout = absl::Minutes(5);
  // Allreduce with the contact-aware planner (communicator.h's CollectiveOptions).
  bool contact_aware = false;
  // Hold each outer update back until CommitSync() (see "Elastic jobs" above).
  bool elastic = false;
};

// Sync counters, the same on every rank (every rank sends the same amount).
struct DiLoCoStats {
  int64_t syncs = 0;
  std::vector<int64_t> sync_steps;  // the inner step after which each sync ran
  int64_t syncs_moved = 0;          // syncs placed off their nominal step
  int64_t syncs_in_window = 0;      // placed syncs whose ring was predicted up
  // Bytes of the pseudo-gradient buffers handed to the allreduce (per rank, summed over syncs).
  // Per-step data parallelism hands over the fp32 gradients, parameter_bytes, every step, so
  // (steps * parameter_bytes) / allreduce_payload_bytes is DiLoCo's saving (H, or 2H in bf16).
  int64_t allreduce_payload_bytes = 0;
  // What this rank sends for them over a ring allreduce, 2 (n-1)/n of the payload (an estimate:
  // a tree sends differently; the placement broadcasts' 16 bytes are left out).
  int64_t estimated_sent_bytes = 0;
  absl::Duration sync_wall_time = absl::ZeroDuration();  // spent in syncs, summed
};

// Where to run a sync among candidate steps. `ring_satellites` are the ranks' satellites in ring
// order (rank i -> element i); a hop between consecutive ones (and last to first) counts as up
// at orbit time t when it is a candidate link that is up at t for at least `min_up_s` more, or,
// for a pair with no direct link, when a routed path exists at t whose hops stay up that long
// (the link emulator's rule); two ranks on one satellite are always connected.
// `candidate_orbit_s[i]` is the estimated orbit time at which the sync would start at candidate
// i. Picks the candidate with the fewest hops down; ties go to the one nearest
// `preferred_index` (the nominal step), then the earlier one. Pure: same inputs, same answer.
struct SyncPlacement {
  int index = 0;
  bool ring_up = false;  // every hop up at the chosen candidate
  int hops_down = 0;
};
SyncPlacement PlaceSync(const linkmodel::ContactPlan& plan, std::span<const int> ring_satellites,
                        std::span<const double> candidate_orbit_s, int preferred_index,
                        double min_up_s);

class DiLoCo {
 public:
  // Copies `parameters` into the global copy (they must hold the same values on every rank, e.g.
  // from the same seed or a broadcast) and zeroes the momentum. Parameters: dense CPU or CUDA
  // floating tensors on one device; every rank passes the same shapes in the same order with
  // the same options.
  static absl::StatusOr<std::unique_ptr<DiLoCo>> Create(
      std::shared_ptr<TensorCollectives> collectives, std::vector<at::Tensor> parameters,
      DiLoCoOptions options);
  DiLoCo(const DiLoCo&) = delete;
  DiLoCo& operator=(const DiLoCo&) = delete;

  // Call after each inner optimiser step with the number of inner steps done so far (1, 2, ...;
  // consecutive after the first call, the same on every rank). Runs the placement decision at
  // the first step of a sync's window and the sync at its chosen step. Returns whether a sync
  // ran after this step.
  absl::StatusOr<bool> AfterInnerStep(int64_t step);

  // Elastic: apply the sync whose allreduce the last AfterInnerStep ran (the step committed), or
  // forget it (the step was dropped; the sync runs again after the next inner step). No-ops when
  // no sync is pending.
  void CommitSync();
  void DropSync();
  bool sync_pending() const { return pending_.defined(); }
  // Elastic: registers the state every live rank holds alike under "<prefix>..." (the fp32 global
  // copy and momentum, the sync schedule, the sync counters of stats()).
  absl::Status AddToState(ElasticState& state, const std::string& prefix);
  // Elastic: after this rank received the state, its local parameters take the global copy.
  void OnStateReceived();

  const DiLoCoStats& stats() const { return stats_; }
  const DiLoCoOptions& options() const { return options_; }
  // Bytes of the parameters in fp32: what one per-step data-parallel allreduce hands over.
  int64_t parameter_bytes() const { return numel_ * 4; }
  // Mean wall time of an inner step (between AfterInnerStep calls, syncs excluded).
  absl::Duration mean_inner_step() const;

 private:
  DiLoCo(std::shared_ptr<TensorCollectives> collectives, std::vector<at::Tensor> parameters,
         DiLoCoOptions options);
  // Rank 0 picks the step in [first, last] and broadcasts it.
  absl::StatusOr<int64_t> ChooseSyncStep(int64_t now_step, int64_t first, int64_t last,
                                         int64_t nominal);
  // The sync's allreduce: the averaged pseudo-gradients, back to back.
  absl::StatusOr<at::Tensor> ReducePseudoGradients();
  // Applies them to the global copy and the parameters, counts the sync (run after `step`,
  // started at `start`) and schedules the next one.
  void ApplySync(const at::Tensor& flat, int64_t step, absl::Time start);
  runtime::CollectiveOptions CollectiveOptionsNow() const;

  std::shared_ptr<TensorCollectives> collectives_;
  std::vector<at::Tensor> parameters_;
  std::vector<at::Tensor> global_;    // fp32 global copy
  std::vector<at::Tensor> momentum_;  // fp32 Nesterov buffers
  int64_t numel_ = 0;
  DiLoCoOptions options_;
  DiLoCoStats stats_;

  int64_t last_step_ = 0;
  int64_t next_nominal_ = 0;
  std::optional<int64_t> planned_step_;
  // Elastic: the averaged pseudo-gradient of a sync not yet committed, and when it ran.
  at::Tensor pending_;
  int64_t pending_step_ = 0;
  absl::Time pending_start_;
  // The schedule in a form ElasticState can hold: planned_step_ or -1.
  int64_t planned_or_none_ = -1;
  // Whether the current step decided the placement (and found it in a window): DropSync undoes it.
  bool placed_this_step_ = false;
  bool in_window_this_step_ = false;
  absl::Time last_return_ = absl::InfinitePast();
  absl::Duration inner_time_sum_ = absl::ZeroDuration();
  int64_t inner_time_samples_ = 0;
  absl::Duration last_sync_ = absl::ZeroDuration();
};

}  // namespace crosslink::torch

#endif  // CROSSLINK_TORCH_DILOCO_H_
