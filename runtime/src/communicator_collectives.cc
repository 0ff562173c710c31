// Communicator: the collectives. Each call becomes one spec (collective_spec.h), whose open
// choices are settled with the other ranks (a partial allreduce's participants, a contact-aware
// plan's orbit time: the decider, rank 0 or the lowest live rank, decides), then takes collectives'
// one execution path (RunCollective, plans cached per resolved spec), and its failure is mapped to
// the communicator's contract (communicator.h): the status names this rank, the collective and its
// sequence number, and a rank the coordinator declared dead.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/collective_spec.h"
#include "crosslink/collectives/run_collective.h"
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
// Elastic jobs wait longer: there an unexplained failure breaks the communicator for good, while
// the death that explains it may come late (the rank that caught a corruption leaves only after
// its collective ended; a coordinator that restarts learns of a death from its failure detector,
// a heartbeat window later). Fault campaigns (bench/chaos) met both.
constexpr absl::Duration kElasticDeathReportWait = absl::Seconds(5);
}  // namespace

bool AwaitDeathReport(Communicator::Impl& impl, CoordinatorClient& client, int64_t since_epoch,
                      absl::Time deadline) {
  const absl::Time until =
      std::min(deadline, absl::Now() + (impl.elastic ? kElasticDeathReportWait : kDeathReportWait));
  {
    absl::MutexLock lock(&impl.state_mu);
    if (impl.membership.FirstDeathAfter(since_epoch) != nullptr) return true;
  }
  while (absl::Now() < until) {
    absl::StatusOr<Membership> membership = client.Heartbeat(until);
    if (!membership.ok()) return false;  // the coordinator is gone: keep the error we have
    if (membership->FirstDeathAfter(since_epoch) != nullptr) {
      absl::MutexLock lock(&impl.state_mu);
      if (membership->epoch > impl.membership.epoch) impl.membership = *std::move(membership);
      return true;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

using collectives::CollectiveKind;
using collectives::CollectiveSpec;
using collectives::DataType;
using collectives::ReduceOp;

absl::Status Communicator::Run(CollectiveKind kind, size_t count, DataType type, ReduceOp op,
                               int root, void* data, const void* input,
                               const CollectiveOptions& options,
                               absl::Span<const size_t> send_counts,
                               absl::Span<const size_t> recv_counts) {
  absl::MutexLock collective_lock(&impl_->collective_mu);
  collectives::CollectiveContext& context = impl_->collective;
  const absl::Time start = absl::Now();
  const absl::Time deadline = options.Deadline(start);
  // Every collective takes a sequence number, whether it succeeds or not (collective_context.h).
  const absl::Cleanup advance = [&context] { ++context.sequence; };
  const auto describe = [&](uint64_t sequence) {
    return absl::StrCat("rank ", rank_, " ", std::string(collectives::CollectiveKindName(kind)),
                        " #", sequence, " (", count, " ",
                        std::string(collectives::DataTypeName(type)), ")");
  };
  {
    absl::MutexLock lock(&impl_->state_mu);
    if (!impl_->broken.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(describe(context.sequence),
                       ": the communicator failed earlier and its links are out of step: ",
                       impl_->broken.ToString()));
    }
  }

  // Elastic, in a program that takes quorums: a collective that starts after the membership moved
  // past this step's quorum fails without running. Rebuilding the mesh here, in mid-step, would
  // pair this rank with survivors whose collective already failed on the death and who went on to
  // ShouldCommit and the next Quorum: each would wait for the other until its deadline (a
  // 19 s recovery in crosslink-chaos's 1,000-fault campaign). The next Quorum rebuilds the mesh.
  if (impl_->elastic && impl_->quorum_epoch != 0) {
    if (const Membership now = membership(); now.epoch > impl_->quorum_epoch) {
      const DeadRank* dead = now.FirstDeathAfter(impl_->quorum_epoch);
      return absl::AbortedError(absl::StrCat(
          describe(context.sequence), " not started: the membership moved from epoch ",
          impl_->quorum_epoch, " (this step's quorum) to ", now.epoch,
          dead != nullptr ? absl::StrCat(" (rank ", dead->rank, " died: ", dead->reason, ")")
                          : std::string(" (a rank was admitted)"),
          "; the next Quorum rebuilds the mesh"));
    }
  }
  // Elastic: rebuild the mesh among the live ranks when the membership moved
  // (communicator_elastic.cc); a rebuild that met another death fails this call only. A rebuild
  // also restarts the sequence numbers for its epoch, the same on every live rank.
  if (absl::Status mesh = EnsureMesh(*this, *impl_, deadline); !mesh.ok()) {
    absl::Status status(mesh.code(),
                        absl::StrCat(describe(context.sequence), ": ", mesh.message()));
    absl::MutexLock lock(&impl_->state_mu);
    if (mesh.code() != absl::StatusCode::kAborted) impl_->broken = status;
    return status;
  }
  const uint64_t sequence = context.sequence;
  const std::string what = describe(sequence);
  // The deaths a failure of this collective may be explained by: those after the epoch its mesh
  // was built for (every death without elastic, where the mesh never changes).
  const int64_t mesh_epoch = impl_->elastic ? impl_->mesh_epoch : 0;

  CollectiveSpec spec =
      collectives::MakeCollectiveSpec(kind, world_size_, count, type, op, root, options);
  spec.send_counts.assign(send_counts.begin(), send_counts.end());
  spec.recv_counts.assign(recv_counts.begin(), recv_counts.end());
  const int live_count = static_cast<int>(impl_->live.size());
  std::vector<bool> live_mask(world_size_, live_count == 0);
  for (int r : impl_->live) live_mask[r] = true;
  if (impl_->elastic && live_count < world_size_) {
    // The contact-aware and partial resolutions below plan over these.
    if (kind == CollectiveKind::kAllgather || kind == CollectiveKind::kReduceScatter ||
        kind == CollectiveKind::kAlltoall) {
      return absl::FailedPreconditionError(
          absl::StrCat(what, ": not available once ranks have died (their layout is by rank); ",
                       live_count, " of ", world_size_, " ranks live"));
    }
    if (kind == CollectiveKind::kBroadcast && !live_mask[root]) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": broadcast root ", root, " is dead"));
    }
    spec.participants = impl_->live;
  }
  // Without a predicted plan every link looks alike: the rank-order plans serve.
  if (impl_->predicted_plan == nullptr) spec.contact_aware = false;
  const bool contact_aware = spec.contact_aware;
  // Deadline-bounded partial allreduce: agree on the participants before any data moves
  // (communicator_partial.cc). A rank left out returns here with its buffer untouched.
  PartialAllreduce partial;
  if (kind == CollectiveKind::kAllreduce && options.min_participants > 0) {
    partial = PreparePartialAllreduce(*this, *impl_, spec, options.min_participants, sequence,
                                      start, deadline);
    if (!partial.status.ok()) {
      absl::Status status(partial.status.code(),
                          absl::StrCat(what, ": ", partial.status.message()));
      // Elastic: a death explains a failed agreement (asked of the coordinator before the lock).
      const bool death_known = impl_->elastic && !partial.mesh_in_step &&
                               AwaitDeathReport(*impl_, *client_, mesh_epoch, deadline);
      absl::ReleasableMutexLock lock(&impl_->state_mu);
      impl_->last_stats = {.sequence = sequence,
                           .algorithm = "partial_allreduce",
                           .contributors = partial.contributors,
                           .participants = partial.participants,
                           .elapsed = absl::Now() - start};
      if (!partial.mesh_in_step) {
        if (const DeadRank* dead = impl_->membership.FirstDeathAfter(mesh_epoch);
            death_known && dead != nullptr) {
          // The next collective runs among the survivors.
          status = absl::AbortedError(absl::StrCat(what, " aborted: rank ", dead->rank, " died (",
                                                   dead->reason, "); ", status.message()));
          lock.Release();
          RetireMesh(*this, *impl_, status);
          return status;
        }
        impl_->broken = status;
      }
      return status;
    }
    if (partial.decided) spec = partial.spec;
  }
  if (contact_aware && !partial.decided) {
    absl::StatusOr<CollectiveSpec> resolved =
        ResolveContactAwareSpec(*this, *impl_, spec, sequence, deadline);
    if (!resolved.ok()) {
      return absl::Status(
          resolved.status().code(),
          absl::StrCat(what, ": contact-aware planning: ", resolved.status().message()));
    }
    spec = *std::move(resolved);
  }

  // Only a broadcast uses its root, but the plan builder wants every spec's among the
  // participants: a subset without rank 0 (survivors, a partial result) roots at its first.
  if (kind != CollectiveKind::kBroadcast && spec.PlanRank(spec.root) < 0) {
    spec.root = spec.GroupRank(0);
  }
  const int64_t outages_before = outages_met();
  const int64_t resent_before = MessagesResent(*impl_);  // communicator_reconnect.h
  CollectiveStats stats;
  absl::Status status = collectives::RunCollective(
      context, spec, {data, input, options.error_feedback}, deadline, &stats.algorithm);
  if (!status.ok() && partial.decided) {
    status = absl::Status(status.code(), absl::StrCat("partial allreduce (", partial.description,
                                                      "): ", status.message()));
  }

  stats.sequence = sequence;
  stats.outages_met = outages_met() - outages_before;
  stats.chunks_resent = MessagesResent(*impl_) - resent_before;
  stats.elapsed = absl::Now() - start;
  stats.contributors = partial.contributors.empty() ? live_mask : partial.contributors;
  stats.participants = partial.contributors.empty() ? spec.plan_world_size() : partial.participants;
  if (contact_aware && status.ok()) {
    impl_->last_contact_aware_orbit_s = clock_->OrbitAt(absl::Now()) - clock_->OrbitAt(start);
  }
  if (!status.ok() && (status.code() == absl::StatusCode::kUnavailable ||
                       status.code() == absl::StatusCode::kAborted)) {
    // A rank that died takes its neighbours down first, and they close their connections to
    // everyone: ranks further round the ring then see "peer closed" from a live neighbour. The
    // launcher reports the death to the coordinator within milliseconds, but the heartbeat thread
    // hears of it only at its next beat, so ask the coordinator now (briefly, and never past the
    // collective's deadline) to name the rank that died rather than the one that gave up.
    AwaitDeathReport(*impl_, *client_, mesh_epoch, deadline);
  }
  absl::ReleasableMutexLock lock(&impl_->state_mu);
  impl_->last_stats = stats;
  if (status.ok()) return status;

  // A dead rank explains most failures better than the connection error it caused: report it
  // as kAborted, naming the rank and the coordinator's reason.
  if (const DeadRank* dead = impl_->membership.FirstDeathAfter(mesh_epoch);
      dead != nullptr && status.code() != absl::StatusCode::kInvalidArgument &&
      status.code() != absl::StatusCode::kDataLoss) {
    status = absl::AbortedError(absl::StrCat(what, " aborted: rank ", dead->rank, " died (",
                                             dead->reason, "); ", status.message()));
    if (impl_->elastic) {
      // The communicator stays usable: the next collective runs among the survivors.
      lock.Release();
      RetireMesh(*this, *impl_, status);
      return status;
    }
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
  return Run(CollectiveKind::kAllreduce, count, type, op, 0, data, nullptr, options);
}

absl::Status Communicator::ReduceScatter(void* data, size_t count, DataType type, ReduceOp op,
                                         const CollectiveOptions& options) {
#if CROSSLINK_RUNTIME_CUDA
  if (IsDeviceBuffer(data)) return DeviceReduceScatter(*this, data, count, type, op, options);
#endif
  return Run(CollectiveKind::kReduceScatter, count, type, op, 0, data, nullptr, options);
}

absl::Status Communicator::Allgather(const void* input, void* output, size_t count_per_rank,
                                     DataType type, const CollectiveOptions& options) {
#if CROSSLINK_RUNTIME_CUDA
  if (IsDeviceBuffer(output) || IsDeviceBuffer(input)) {
    return DeviceAllgather(*this, input, output, count_per_rank, type, options);
  }
#endif
  return Run(CollectiveKind::kAllgather, count_per_rank * static_cast<size_t>(world_size_), type,
             ReduceOp::kSum, 0, output, input, options);
}

absl::Status Communicator::Alltoall(const void* input, void* output, size_t count_per_rank,
                                    DataType type, const CollectiveOptions& options) {
#if CROSSLINK_RUNTIME_CUDA
  if (IsDeviceBuffer(output) || IsDeviceBuffer(input)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", rank_, " alltoall: device buffers are not supported; pass host memory"));
  }
#endif
  return Run(CollectiveKind::kAlltoall, count_per_rank * static_cast<size_t>(world_size_), type,
             ReduceOp::kSum, 0, output, input, options);
}

absl::Status Communicator::Alltoall(const void* input, absl::Span<const size_t> send_counts,
                                    void* output, absl::Span<const size_t> recv_counts,
                                    DataType type, const CollectiveOptions& options) {
  if (send_counts.size() != static_cast<size_t>(world_size_) ||
      recv_counts.size() != static_cast<size_t>(world_size_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", rank_, " alltoall: ", send_counts.size(), " send counts and ",
                     recv_counts.size(), " receive counts for world size ", world_size_));
  }
#if CROSSLINK_RUNTIME_CUDA
  if (IsDeviceBuffer(output) || IsDeviceBuffer(input)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", rank_, " alltoall: device buffers are not supported; pass host memory"));
  }
#endif
  size_t count = 0;
  for (size_t c : recv_counts) count += c;  // ValidateSpec rejects a sum that overflows
  return Run(CollectiveKind::kAlltoall, count, type, ReduceOp::kSum, 0, output, input, options,
             send_counts, recv_counts);
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
  return Run(CollectiveKind::kBroadcast, count, type, ReduceOp::kSum, root, data, nullptr, options);
}

absl::Status Communicator::Barrier(const CollectiveOptions& options) {
  if (options.contact_aware && impl_->predicted_plan != nullptr) {
    // The dissemination barrier talks to ranks r+1, r+2, r+4 whatever the orbit says; a
    // contact-aware allreduce of one value also returns only once every rank has entered, over
    // links the predicted plan has up.
    float token = 0;
    return Allreduce(&token, 1, DataType::kFloat32, ReduceOp::kSum, options);
  }
  return Run(CollectiveKind::kBarrier, 0, DataType::kFloat32, ReduceOp::kSum, 0, nullptr, nullptr,
             options);
}

}  // namespace crosslink::runtime
