// Communicator: the collectives. Each call is planned (cached per shape), executed over the mesh,
// and its failure mapped to the communicator's contract (communicator.h): the status names this
// rank, the collective and its sequence number, and a rank the coordinator declared dead.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "absl/base/call_once.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/emulation/contact_plan_timeline.h"
#include "crosslink/collectives/executor.h"
#include "crosslink/runtime/communicator.h"
#if CROSSLINK_RUNTIME_CUDA
// Device buffers are staged through pinned host memory, each piece one host collective below.
#include "crosslink/runtime/cuda/device_collectives.h"
#endif

namespace crosslink::runtime {

namespace {
// How long a failed collective asks the coordinator whether a rank died, when the failure looks
// like one (a peer closed or a connection broke). The launcher reports a dead rank within
// milliseconds of reaping it; half a second covers a loaded machine without delaying the error
// of a plainly cut link by much.
constexpr absl::Duration kDeathReportWait = absl::Milliseconds(500);
}  // namespace

using collectives::AllreduceAlgorithm;
using collectives::CollectiveKind;
using collectives::DataType;
using collectives::Plan;
using collectives::PlanRequest;
using collectives::ReduceOp;

struct Communicator::Call {
  CollectiveKind kind = CollectiveKind::kAllreduce;
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kRing;  // allreduce only; never kAuto here
  size_t count = 0;
  DataType type = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  int root = 0;
  void* data = nullptr;
  const void* input = nullptr;
  // Allreduce only: plan with the contact-aware planner (algorithm may then be kAuto).
  bool contact_aware = false;
};

namespace {

// Without a scenario the links are loopback TCP: tens of microseconds, tens of Gbit/s.
constexpr collectives::LinkCostHints kLoopbackHints{30e-6, 40e9};

absl::StatusOr<Plan> MakePlan(CollectiveKind kind, AllreduceAlgorithm algorithm,
                              const PlanRequest& request) {
  switch (kind) {
    case CollectiveKind::kAllreduce:
      return algorithm == AllreduceAlgorithm::kTree ? collectives::PlanTreeAllreduce(request)
                                                    : collectives::PlanRingAllreduce(request);
    case CollectiveKind::kReduceScatter:
      return collectives::PlanReduceScatter(request);
    case CollectiveKind::kAllgather:
      return collectives::PlanAllgather(request);
    case CollectiveKind::kBroadcast:
      return collectives::PlanBroadcast(request);
    case CollectiveKind::kBarrier:
      return collectives::PlanBarrier(request);
  }
  return absl::InvalidArgumentError("unknown collective kind");
}

}  // namespace

collectives::LinkCostHints Communicator::AutoAlgorithmHints() const {
  if (clock_ == nullptr || world_size_ < 2) return kLoopbackHints;
  // kAuto must pick the same algorithm on every rank: a rank choosing ring while its peers choose
  // tree waits for messages that never come. Each rank's own links differ (one may just have
  // come back from an outage), so the hints are a job constant instead: the slowest rate and
  // longest latency over every ring link of the job at the clock's starting orbit time, computed
  // by every rank from the same true plan. Following the links as they change is the
  // contact-aware planner's job (it agrees on the orbit time through rank 0).
  absl::call_once(impl_->job_hints_once, [this] {
    collectives::LinkCostHints hints{0.0, std::numeric_limits<double>::infinity()};
    const double t_s = clock_->orbit_start_s();
    for (int a = 0; a < world_size_; ++a) {
      const int b = (a + 1) % world_size_;
      auto timeline = collectives::ContactPlanTimeline::Create(true_plan_, rank_satellites_[a],
                                                               rank_satellites_[b]);
      if (!timeline.ok()) continue;  // two ranks on one satellite: no crosslink between them
      const collectives::LinkWindow window = timeline->At(t_s);
      if (!window.up) continue;
      hints.latency_s = std::max(hints.latency_s, window.latency_s);
      if (window.rate_bps > 0) hints.rate_bps = std::min(hints.rate_bps, window.rate_bps);
    }
    if (!std::isfinite(hints.rate_bps)) hints.rate_bps = kLoopbackHints.rate_bps;
    impl_->job_hints = hints;
  });
  return impl_->job_hints;
}

absl::Status Communicator::Run(const Call& call, const CollectiveOptions& options) {
  absl::MutexLock collective_lock(&impl_->collective_mu);
  const absl::Time start = absl::Now();
  const absl::Time deadline = std::min(options.deadline, start + options.timeout);
  const uint64_t sequence = impl_->next_sequence++;
  const std::string what = absl::StrCat(
      "rank ", rank_, " ", std::string(collectives::CollectiveKindName(call.kind)), " #", sequence,
      " (", call.count, " ", std::string(collectives::DataTypeName(call.type)), ")");
  {
    absl::MutexLock lock(&impl_->state_mu);
    if (!impl_->broken.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": the communicator failed earlier and its links are out of step: ",
                       impl_->broken.ToString()));
    }
  }

  PlanRequest request;
  request.world_size = world_size_;
  request.count = call.count;
  request.type = call.type;
  request.op = call.op;
  request.root = call.root;
  if (options.max_segment_bytes > 0) request.max_segment_bytes = options.max_segment_bytes;
  request.only_rank = rank_;
  if (call.kind == CollectiveKind::kAllreduce) request.compression = options.compression;
  // Deadline-bounded partial allreduce: agree on the participants before any data moves
  // (communicator_partial.cc). A rank left out returns here with its buffer untouched.
  PartialAllreduce partial;
  if (call.kind == CollectiveKind::kAllreduce && options.min_participants > 0) {
    partial =
        PreparePartialAllreduce(*this, *impl_,
                                {options.algorithm, call.contact_aware, call.count, call.type,
                                 call.op, request.max_segment_bytes, options.min_participants},
                                sequence, start, deadline);
    if (!partial.status.ok()) {
      absl::Status status(partial.status.code(),
                          absl::StrCat(what, ": ", partial.status.message()));
      absl::MutexLock lock(&impl_->state_mu);
      impl_->last_stats = {.sequence = sequence,
                           .algorithm = "partial_allreduce",
                           .contributors = partial.contributors,
                           .participants = partial.participants,
                           .elapsed = absl::Now() - start};
      if (!partial.mesh_in_step) impl_->broken = status;
      return status;
    }
  }
  const Impl::PlanKey key{static_cast<int>(call.kind),
                          static_cast<int>(call.algorithm),
                          call.count,
                          static_cast<int>(call.type),
                          static_cast<int>(call.op),
                          call.root,
                          request.max_segment_bytes,
                          static_cast<int>(request.compression)};
  const Plan* chosen = nullptr;
  if (call.contact_aware && !partial.subset) {
    ContactAwareCall shape;
    shape.algorithm = call.algorithm;
    shape.count = call.count;
    shape.type = call.type;
    shape.op = call.op;
    shape.max_segment_bytes = request.max_segment_bytes;
    absl::StatusOr<const Plan*> planned =
        ContactAwareAllreducePlan(*this, *impl_, shape, sequence, deadline);
    if (!planned.ok()) {
      return absl::Status(
          planned.status().code(),
          absl::StrCat(what, ": contact-aware planning: ", planned.status().message()));
    }
    chosen = *planned;
  }
  auto it = impl_->plans.find(key);
  if (chosen == nullptr && !partial.subset && it == impl_->plans.end()) {
    absl::StatusOr<Plan> plan = MakePlan(call.kind, call.algorithm, request);
    if (!plan.ok()) {
      return absl::Status(plan.status().code(), absl::StrCat(what, ": ", plan.status().message()));
    }
    // A training loop repeats a handful of shapes; a program that sweeps sizes should not grow
    // the cache without bound.
    if (impl_->plans.size() >= 64) impl_->plans.clear();
    it = impl_->plans.emplace(key, *std::move(plan)).first;
  }
  // The contact-aware and partial planners know nothing of compression: their plans get it here
  // (a copy of the contact-aware one, which its cache shares across calls).
  Plan compressed_copy;
  if (call.kind == CollectiveKind::kAllreduce && call.type == DataType::kFloat32) {
    partial.plan.compression = options.compression;
    if (chosen != nullptr && chosen->compression != options.compression) {
      compressed_copy = *chosen;
      compressed_copy.compression = options.compression;
      chosen = &compressed_copy;
    }
  }
  const Plan& plan = partial.subset ? partial.plan : chosen != nullptr ? *chosen : it->second;

  const int64_t outages_before = outages_met();
  const int64_t resent_before = MessagesResent(*impl_);  // communicator_reconnect.h
  collectives::ExecuteArgs args;
  args.plan = &plan;
  args.rank = partial.subset ? partial.index : rank_;
  args.connections = partial.subset ? partial.connections : impl_->raw_connections;
  args.job_id = transport_job_id_;
  args.sequence = sequence;
  args.data = call.data;
  args.input = call.input;
  args.deadline = deadline;
  args.error_feedback = options.error_feedback;
  absl::Status status = collectives::ExecutePlan(args);
  if (!status.ok() && partial.subset) {
    // The executor names plan ranks; say which real ranks they are.
    status = absl::Status(status.code(), absl::StrCat("partial allreduce (", partial.description,
                                                      "): ", status.message()));
  }

  CollectiveStats stats;
  stats.sequence = sequence;
  stats.algorithm = plan.algorithm;
  stats.outages_met = outages_met() - outages_before;
  stats.chunks_resent = MessagesResent(*impl_) - resent_before;
  stats.elapsed = absl::Now() - start;
  stats.contributors =
      partial.contributors.empty() ? std::vector<bool>(world_size_, true) : partial.contributors;
  stats.participants = partial.contributors.empty() ? world_size_ : partial.participants;
  if (call.contact_aware && status.ok() && clock_ != nullptr) {
    impl_->last_contact_aware_orbit_s = clock_->OrbitAt(absl::Now()) - clock_->OrbitAt(start);
  }
  if (!status.ok() && (status.code() == absl::StatusCode::kUnavailable ||
                       status.code() == absl::StatusCode::kAborted)) {
    // A rank that died takes its neighbours down first, and they close their connections to
    // everyone: ranks further round the ring then see "peer closed" from a live neighbour. The
    // launcher reports the death to the coordinator within milliseconds, but the heartbeat thread
    // hears of it only at its next beat, so ask the coordinator now (briefly, and never past the
    // collective's deadline) to name the rank that died rather than the one that gave up.
    const absl::Time until = std::min(deadline, absl::Now() + kDeathReportWait);
    bool known = false;
    {
      absl::MutexLock lock(&impl_->state_mu);
      known = !impl_->membership.dead_ranks.empty();
    }
    while (!known && absl::Now() < until) {
      absl::StatusOr<Membership> membership = client_->Heartbeat(until);
      if (!membership.ok()) break;  // the coordinator is gone: keep the error we have
      if (!membership->dead_ranks.empty()) {
        absl::MutexLock lock(&impl_->state_mu);
        impl_->membership = *std::move(membership);
        known = true;
      } else {
        absl::SleepFor(absl::Milliseconds(20));
      }
    }
  }
  absl::MutexLock lock(&impl_->state_mu);
  impl_->last_stats = stats;
  if (status.ok()) return status;

  // A dead rank explains most failures better than the connection error it caused: report it
  // as kAborted, naming the rank and the coordinator's reason.
  if (!impl_->membership.dead_ranks.empty() &&
      status.code() != absl::StatusCode::kInvalidArgument &&
      status.code() != absl::StatusCode::kDataLoss) {
    const DeadRank& dead = impl_->membership.dead_ranks.front();
    status = absl::AbortedError(absl::StrCat(what, " aborted: rank ", dead.rank, " died (",
                                             dead.reason, "); ", status.message()));
  } else if (!absl::StartsWith(status.message(), absl::StrCat("rank ", rank_, ":"))) {
    // The executor's messages already name this rank, the collective and its sequence number.
    status = absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
  }
  impl_->broken = status;
  return status;
}

absl::Status Communicator::Allreduce(void* data, size_t count, DataType type, ReduceOp op,
                                     const CollectiveOptions& options) {
#if CROSSLINK_RUNTIME_CUDA
  if (IsDeviceBuffer(data)) return DeviceAllreduce(*this, data, count, type, op, options);
#endif
  Call call;
  call.kind = CollectiveKind::kAllreduce;
  call.algorithm = options.algorithm;
  // Without a predicted plan every link looks alike: the rank-order plans below serve.
  call.contact_aware = options.contact_aware && impl_->predicted_plan != nullptr;
  if (call.algorithm == AllreduceAlgorithm::kAuto && !call.contact_aware) {
    call.algorithm = collectives::ChooseAllreduceAlgorithm(
        world_size_, count * collectives::DataTypeSize(type), AutoAlgorithmHints());
  }
  call.count = count;
  call.type = type;
  call.op = op;
  call.data = data;
  return Run(call, options);
}

absl::Status Communicator::ReduceScatter(void* data, size_t count, DataType type, ReduceOp op,
                                         const CollectiveOptions& options) {
#if CROSSLINK_RUNTIME_CUDA
  if (IsDeviceBuffer(data)) return DeviceReduceScatter(*this, data, count, type, op, options);
#endif
  Call call;
  call.kind = CollectiveKind::kReduceScatter;
  call.count = count;
  call.type = type;
  call.op = op;
  call.data = data;
  return Run(call, options);
}

absl::Status Communicator::Allgather(const void* input, void* output, size_t count_per_rank,
                                     DataType type, const CollectiveOptions& options) {
#if CROSSLINK_RUNTIME_CUDA
  if (IsDeviceBuffer(output) || IsDeviceBuffer(input)) {
    return DeviceAllgather(*this, input, output, count_per_rank, type, options);
  }
#endif
  Call call;
  call.kind = CollectiveKind::kAllgather;
  call.count = count_per_rank * static_cast<size_t>(world_size_);
  call.type = type;
  call.data = output;
  call.input = input;
  return Run(call, options);
}

absl::Status Communicator::Broadcast(void* data, size_t count, DataType type, int root,
                                     const CollectiveOptions& options) {
  if (root < 0 || root >= world_size_) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank_, " broadcast: root ", root,
                                                   " outside a world of ", world_size_));
  }
#if CROSSLINK_RUNTIME_CUDA
  if (IsDeviceBuffer(data)) return DeviceBroadcast(*this, data, count, type, root, options);
#endif
  Call call;
  call.kind = CollectiveKind::kBroadcast;
  call.count = count;
  call.type = type;
  call.root = root;
  call.data = data;
  return Run(call, options);
}

absl::Status Communicator::Barrier(const CollectiveOptions& options) {
  if (options.contact_aware && impl_->predicted_plan != nullptr) {
    // The dissemination barrier talks to ranks r+1, r+2, r+4 whatever the orbit says; a
    // contact-aware allreduce of one value also returns only once every rank has entered, over
    // links the predicted plan has up.
    float token = 0;
    return Allreduce(&token, 1, DataType::kFloat32, ReduceOp::kSum, options);
  }
  Call call;
  call.kind = CollectiveKind::kBarrier;
  return Run(call, options);
}

}  // namespace crosslink::runtime
