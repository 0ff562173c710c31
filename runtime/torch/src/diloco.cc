#include "crosslink/torch/diloco.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/torch/tensor_checks.h"

namespace crosslink::torch {

namespace {

// Whether the ring hop a - b can carry traffic from t_s for min_up_s (the rule of the link
// emulator's timeline: a direct candidate link, else a routed path).
bool HopUp(const linkmodel::ContactPlan& plan, int a, int b, double t_s, double min_up_s) {
  if (a == b) return true;
  if (plan.FindLink(a, b).has_value()) {
    return plan.Up(a, b, t_s) && plan.RemainingUp(a, b, t_s) >= min_up_s;
  }
  const std::optional<linkmodel::Path> path = plan.ShortestPath(a, b, t_s);
  return path.has_value() && path->remaining_up_s >= min_up_s;
}

int HopsDown(const linkmodel::ContactPlan& plan, std::span<const int> sats, double t_s,
             double min_up_s) {
  const size_t n = sats.size();
  if (n < 2) return 0;
  // With two ranks the ring's two hops are one link.
  const size_t hops = n == 2 ? 1 : n;
  int down = 0;
  for (size_t i = 0; i < hops; ++i) {
    if (!HopUp(plan, sats[i], sats[(i + 1) % n], t_s, min_up_s)) ++down;
  }
  return down;
}

}  // namespace

SyncPlacement PlaceSync(const linkmodel::ContactPlan& plan, std::span<const int> ring_satellites,
                        std::span<const double> candidate_orbit_s, int preferred_index,
                        double min_up_s) {
  SyncPlacement best;
  best.index = -1;
  for (int i = 0; i < static_cast<int>(candidate_orbit_s.size()); ++i) {
    const int down = HopsDown(plan, ring_satellites, candidate_orbit_s[i], min_up_s);
    // Candidates are visited in order, so on equal distance the earlier one is kept.
    const bool better = best.index < 0 || down < best.hops_down ||
                        (down == best.hops_down &&
                         std::abs(i - preferred_index) < std::abs(best.index - preferred_index));
    if (better) {
      best.index = i;
      best.hops_down = down;
    }
  }
  if (best.index < 0) best.index = 0;
  best.ring_up = best.hops_down == 0;
  return best;
}

DiLoCo::DiLoCo(std::shared_ptr<TensorCollectives> collectives, std::vector<at::Tensor> parameters,
               DiLoCoOptions options)
    : collectives_(std::move(collectives)),
      parameters_(std::move(parameters)),
      options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<DiLoCo>> DiLoCo::Create(
    std::shared_ptr<TensorCollectives> collectives, std::vector<at::Tensor> parameters,
    DiLoCoOptions options) {
  if (collectives == nullptr) return absl::InvalidArgumentError("DiLoCo: no TensorCollectives");
  if (options.inner_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("DiLoCo: inner_steps must be >= 1, got ", options.inner_steps));
  }
  if (!(options.outer_lr > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DiLoCo: outer_lr must be positive, got ", options.outer_lr));
  }
  if (!(options.outer_momentum >= 0 && options.outer_momentum < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DiLoCo: outer_momentum must be in [0, 1), got ", options.outer_momentum));
  }
  if (options.max_shift_steps < 0 ||
      (options.max_shift_steps > 0 && 2 * options.max_shift_steps >= options.inner_steps)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DiLoCo: max_shift_steps ", options.max_shift_steps,
                     " must be >= 0 and less than half of inner_steps ", options.inner_steps,
                     " (consecutive sync windows would overlap)"));
  }
  if (options.sync_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("DiLoCo: sync_timeout must be positive");
  }
  if (parameters.empty()) return absl::InvalidArgumentError("DiLoCo: no parameters");
  const c10::Device device = parameters[0].defined() ? parameters[0].device() : c10::kCPU;
  for (size_t k = 0; k < parameters.size(); ++k) {
    const at::Tensor& p = parameters[k];
    const std::string what = absl::StrCat("DiLoCo parameter ", k);
    if (!p.defined()) return absl::InvalidArgumentError(absl::StrCat(what, " is undefined"));
    if (!at::isFloatingType(p.scalar_type()) || p.layout() != c10::kStrided ||
        (!p.is_cpu() && !p.is_cuda())) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is not a dense floating CPU or CUDA tensor (dtype ",
                       c10::toString(p.scalar_type()), ", device ", p.device().str(), ")"));
    }
    if (p.device() != device) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is on ", p.device().str(), ", parameter 0 on ", device.str()));
    }
  }
  std::unique_ptr<DiLoCo> diloco(
      new DiLoCo(std::move(collectives), std::move(parameters), std::move(options)));
  at::NoGradGuard no_grad;
  for (const at::Tensor& p : diloco->parameters_) {
    // The outer state is kept in fp32 (or wider) so that bf16/fp16 parameters do not lose the
    // small outer updates to rounding.
    const c10::ScalarType type = at::promote_types(p.scalar_type(), at::kFloat);
    diloco->global_.push_back(p.detach().to(type, /*non_blocking=*/false, /*copy=*/true));
    diloco->momentum_.push_back(at::zeros_like(diloco->global_.back()));
    diloco->numel_ += p.numel();
  }
  diloco->next_nominal_ = diloco->options_.inner_steps;
  return diloco;
}

absl::Duration DiLoCo::mean_inner_step() const {
  if (inner_time_samples_ == 0) return absl::ZeroDuration();
  return inner_time_sum_ / inner_time_samples_;
}

runtime::CollectiveOptions DiLoCo::CollectiveOptionsNow() const {
  runtime::CollectiveOptions collective;
  collective.timeout = options_.sync_timeout;
  collective.contact_aware = options_.contact_aware;
  return collective;
}

absl::StatusOr<bool> DiLoCo::AfterInnerStep(int64_t step) {
  const absl::Time entered = absl::Now();
  if (pending_.defined()) {
    return absl::FailedPreconditionError(
        absl::StrCat("DiLoCo on rank ", collectives_->rank(), ": AfterInnerStep(", step,
                     ") while the sync after step ", pending_step_,
                     " is pending: call CommitSync or DropSync after each step"));
  }
  if (step < 1 || (last_step_ > 0 && step != last_step_ + 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DiLoCo on rank ", collectives_->rank(), ": AfterInnerStep(", step,
                     ") after step ", last_step_, " (steps must be consecutive, from 1)"));
  }
  if (last_step_ == 0) {
    // A program resuming at a later step: the next sync is the next multiple of H from there.
    const int64_t h = options_.inner_steps;
    next_nominal_ = ((step + h - 1) / h) * h;
  } else {
    // The time since the previous call returned is one inner step, without any sync.
    inner_time_sum_ += entered - last_return_;
    ++inner_time_samples_;
  }
  last_step_ = step;
  placed_this_step_ = false;
  in_window_this_step_ = false;

  bool synced = false;
  if (!planned_step_.has_value() && step >= next_nominal_ - options_.max_shift_steps) {
    const runtime::Communicator& communicator = collectives_->communicator();
    if (options_.max_shift_steps == 0 || communicator.scenario() == nullptr ||
        communicator.predicted_plan() == nullptr || communicator.clock() == nullptr) {
      planned_step_ = next_nominal_;
    } else {
      ASSIGN_OR_RETURN(
          planned_step_,
          ChooseSyncStep(step, step, next_nominal_ + options_.max_shift_steps, next_nominal_));
      placed_this_step_ = true;
    }
  }
  if (planned_step_.has_value() && step >= *planned_step_) {
    const absl::Time start = absl::Now();
    ASSIGN_OR_RETURN(at::Tensor flat, ReducePseudoGradients());
    if (options_.elastic) {
      // Applied by CommitSync once every survivor agreed to commit the step.
      pending_ = std::move(flat);
      pending_step_ = step;
      pending_start_ = start;
    } else {
      ApplySync(flat, step, start);
    }
    synced = true;
  }
  planned_or_none_ = planned_step_.value_or(-1);
  last_return_ = absl::Now();
  return synced;
}

void DiLoCo::CommitSync() {
  if (!pending_.defined()) return;
  ApplySync(pending_, pending_step_, pending_start_);
  pending_ = at::Tensor();
  planned_or_none_ = -1;
}

void DiLoCo::DropSync() {
  pending_ = at::Tensor();
  // A placement decided in the dropped step may have reached some survivors only: every one
  // forgets it and decides again after the next inner step.
  if (placed_this_step_) {
    planned_step_.reset();
    if (in_window_this_step_) --stats_.syncs_in_window;
    planned_or_none_ = -1;
  }
  placed_this_step_ = false;
  in_window_this_step_ = false;
}

absl::Status DiLoCo::AddToState(ElasticState& state, const std::string& prefix) {
  for (size_t k = 0; k < global_.size(); ++k) {
    RETURN_IF_ERROR(state.AddTensor(absl::StrCat(prefix, "global", k), global_[k]));
    RETURN_IF_ERROR(state.AddTensor(absl::StrCat(prefix, "momentum", k), momentum_[k]));
  }
  state.AddCounter(absl::StrCat(prefix, "last_step"), &last_step_);
  state.AddCounter(absl::StrCat(prefix, "next_nominal"), &next_nominal_);
  state.AddCounter(absl::StrCat(prefix, "planned_step"), &planned_or_none_);
  state.AddCounter(absl::StrCat(prefix, "syncs"), &stats_.syncs);
  state.AddCounter(absl::StrCat(prefix, "syncs_moved"), &stats_.syncs_moved);
  state.AddCounter(absl::StrCat(prefix, "syncs_in_window"), &stats_.syncs_in_window);
  state.AddCounter(absl::StrCat(prefix, "payload_bytes"), &stats_.allreduce_payload_bytes);
  state.AddCounter(absl::StrCat(prefix, "sent_bytes"), &stats_.estimated_sent_bytes);
  return absl::OkStatus();
}

void DiLoCo::OnStateReceived() {
  at::NoGradGuard no_grad;
  if (planned_or_none_ >= 0) {
    planned_step_ = planned_or_none_;
  } else {
    planned_step_.reset();
  }
  pending_ = at::Tensor();
  for (size_t k = 0; k < global_.size(); ++k) parameters_[k].copy_(global_[k]);
  // The sync history before this process existed is not transferred.
  stats_.sync_steps.clear();
  last_return_ = absl::Now();
}

absl::StatusOr<int64_t> DiLoCo::ChooseSyncStep(int64_t now_step, int64_t first, int64_t last,
                                               int64_t nominal) {
  runtime::Communicator& communicator = collectives_->communicator();
  // Only the decider's view counts (rank 0, or the lowest live rank of an elastic job's quorum);
  // the others take its answer from the broadcast.
  const int decider = collectives_->decider();
  at::Tensor choice = at::full({1}, nominal, at::kLong);
  at::Tensor in_window = at::zeros({1}, at::kLong);
  if (collectives_->rank() == decider) {
    const collectives::ScenarioClock& clock = *communicator.clock();
    const double step_orbit_s = absl::ToDoubleSeconds(mean_inner_step()) * clock.time_scale();
    const double now_orbit_s = clock.OrbitNow();
    std::vector<double> candidate_orbit_s;
    for (int64_t c = first; c <= last; ++c) {
      candidate_orbit_s.push_back(now_orbit_s + static_cast<double>(c - now_step) * step_orbit_s);
    }
    const double min_up_s = absl::ToDoubleSeconds(last_sync_) * clock.time_scale();
    const SyncPlacement placement =
        PlaceSync(*communicator.predicted_plan(), communicator.rank_satellites(), candidate_orbit_s,
                  static_cast<int>(nominal - first), min_up_s);
    choice.fill_(first + placement.index);
    in_window.fill_(placement.ring_up ? 1 : 0);
  }
  // One broadcast carries both the step and whether it is in a window, so every rank's stats
  // agree.
  at::Tensor message = at::cat({choice, in_window});
  RETURN_IF_ERROR(collectives_->Broadcast(message, decider, CollectiveOptionsNow()));
  const int64_t chosen = message[0].item<int64_t>();
  if (chosen < first || chosen > last) {
    return absl::InternalError(absl::StrCat("DiLoCo on rank ", collectives_->rank(), ": rank ",
                                            decider, " chose sync step ", chosen, " outside [",
                                            first, ", ", last, "]"));
  }
  if (message[1].item<int64_t>() != 0) {
    ++stats_.syncs_in_window;
    in_window_this_step_ = true;
  }
  return chosen;
}

absl::StatusOr<at::Tensor> DiLoCo::ReducePseudoGradients() {
  at::NoGradGuard no_grad;
  const c10::ScalarType wire =
      options_.wire_dtype == DiLoCoWireDtype::kBFloat16 ? at::kBFloat16 : at::kFloat;
  // Pseudo-gradients, back to back in one buffer: one collective per sync, whatever the number
  // of parameters.
  std::vector<at::Tensor> pieces;
  pieces.reserve(global_.size());
  for (size_t k = 0; k < global_.size(); ++k) {
    pieces.push_back(
        (global_[k] - parameters_[k].to(global_[k].scalar_type())).reshape({-1}).to(wire));
  }
  at::Tensor flat = at::cat(pieces).contiguous();
  RETURN_IF_ERROR(
      collectives_->Allreduce(flat, collectives::ReduceOp::kAvg, CollectiveOptionsNow()));
  return flat;
}

void DiLoCo::ApplySync(const at::Tensor& flat, int64_t step, absl::Time start) {
  at::NoGradGuard no_grad;
  const double lr = options_.outer_lr;
  const double mu = options_.outer_momentum;
  int64_t offset = 0;
  for (size_t k = 0; k < global_.size(); ++k) {
    at::Tensor& global = global_[k];
    const int64_t n = global.numel();
    const at::Tensor g = flat.narrow(0, offset, n).view(global.sizes()).to(global.scalar_type());
    offset += n;
    // PyTorch's SGD with Nesterov momentum (dampening 0).
    momentum_[k].mul_(mu).add_(g);
    global.sub_(g.add(momentum_[k], mu), lr);
    parameters_[k].copy_(global);
  }

  const int64_t payload = flat.numel() * static_cast<int64_t>(flat.element_size());
  // The ranks the allreduce ran over: every rank, or an elastic job's live ones.
  const int n = static_cast<int>(collectives_->live_ranks().size());
  stats_.allreduce_payload_bytes += payload;
  stats_.estimated_sent_bytes += payload * 2 * (n - 1) / n;
  ++stats_.syncs;
  last_sync_ = absl::Now() - start;
  stats_.sync_wall_time += last_sync_;
  stats_.sync_steps.push_back(step);
  if (step != next_nominal_) ++stats_.syncs_moved;
  next_nominal_ += options_.inner_steps;
  planned_step_.reset();
}

}  // namespace crosslink::torch
