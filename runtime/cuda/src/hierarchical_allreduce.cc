#include "crosslink/runtime/cuda/hierarchical_allreduce.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/cuda/cuda_status.h"
#include "crosslink/collectives/cuda/device_reduce.h"

namespace crosslink::runtime {
namespace {

using collectives::DataType;
using collectives::ReduceOp;
using collectives::cuda::CudaStatus;

// How often a wait looks at NCCL and the stream. A reduce-scatter of a gradient bucket takes
// tens of microseconds to milliseconds on NVLink; 20 µs keeps the added latency small without
// spinning a core flat out for a long cross-node wait.
constexpr absl::Duration kPollInterval = absl::Microseconds(20);

ncclDataType_t NcclType(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return ncclFloat32;
    case DataType::kFloat64:
      return ncclFloat64;
    case DataType::kFloat16:
      return ncclFloat16;
    case DataType::kBFloat16:
      return ncclBfloat16;
    case DataType::kInt32:
      return ncclInt32;
    case DataType::kInt64:
      return ncclInt64;
  }
  return ncclFloat32;
}

// kAvg sums inside and across nodes and divides once at the end (DeviceFinalize).
ncclRedOp_t NcclOp(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMin:
      return ncclMin;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      return ncclSum;
  }
  return ncclSum;
}

absl::Status NcclStatus(ncclResult_t result, ncclComm_t comm, const std::string& what) {
  if (result == ncclSuccess) return absl::OkStatus();
  const char* last = comm != nullptr ? ncclGetLastError(comm) : nullptr;
  const std::string message =
      absl::StrCat(what, ": ", ncclGetErrorString(result),
                   last != nullptr && *last != '\0' ? absl::StrCat(" (", last, ")") : "");
  switch (result) {
    case ncclSystemError:
    case ncclRemoteError:
      return absl::UnavailableError(message);
    case ncclInvalidArgument:
    case ncclInvalidUsage:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

std::string RandomToken() {
  std::random_device random;
  std::string bytes(16, '\0');
  for (char& c : bytes) c = static_cast<char>(random() & 0xff);
  return HexEncode(bytes);
}

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the scenario ", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

HierarchicalAllreduce::HierarchicalAllreduce(Communicator& job, const NodeLayout& layout)
    : job_(job), layout_(layout) {}

std::string HierarchicalAllreduce::Who() const {
  return absl::StrCat("rank ", layout_.rank, " (node ", layout_.node, ", local rank ",
                      layout_.local_rank, " of ", layout_.local_size, ")");
}

absl::StatusOr<std::unique_ptr<HierarchicalAllreduce>> HierarchicalAllreduce::Create(
    Communicator& job, const NodeLayout& layout, const HierarchicalAllreduceOptions& options) {
  if (layout.rank != job.rank() || layout.world_size != job.world_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "hierarchical allreduce: the layout is for rank ", layout.rank, " of ", layout.world_size,
        ", the communicator is rank ", job.rank(), " of ", job.world_size()));
  }
  std::unique_ptr<HierarchicalAllreduce> self(new HierarchicalAllreduce(job, layout));
  const std::string who =
      absl::StrCat("hierarchical allreduce '", options.name, "' on ", self->Who());
  const absl::Time deadline = absl::Now() + options.setup_timeout;
  RETURN_IF_ERROR(CudaStatus(cudaGetDevice(&self->device_), absl::StrCat(who, ": cudaGetDevice")));
  RETURN_IF_ERROR(CudaStatus(cudaEventCreateWithFlags(&self->done_, cudaEventDisableTiming),
                             absl::StrCat(who, ": cudaEventCreateWithFlags")));
  // Each Create of the same name takes the next generation of keys, so a second object never
  // reads the first one's NCCL id. Every rank counts its own Creates; they agree because every
  // rank creates the same objects in the same order.
  absl::StatusOr<int64_t> generation = job.coordinator().KvAdd(
      absl::StrCat("crosslink/hierarchical/", options.name, "/generation/rank", layout.rank), 1,
      deadline);
  if (!generation.ok()) {
    return absl::Status(generation.status().code(),
                        absl::StrCat(who, ": key-value store: ", generation.status().message()));
  }
  const std::string prefix =
      absl::StrCat("crosslink/hierarchical/", options.name, "/", *generation, "/");
  if (layout.local_size > 1 || options.nccl_with_one_gpu) {
    RETURN_IF_ERROR(self->SetUpNccl(prefix, deadline));
  }
  if (layout.num_nodes > 1) {
    if (layout.local_size == 1) {
      // One GPU per node: the group of local rank 0 is the whole job.
      self->cross_node_ = &job;
    } else {
      RETURN_IF_ERROR(self->SetUpCrossNode(prefix, options, deadline));
    }
  }
  return self;
}

absl::Status HierarchicalAllreduce::SetUpNccl(const std::string& prefix, absl::Time deadline) {
  const std::string key = absl::StrCat(prefix, "nccl_id/node", layout_.node);
  const std::string who = absl::StrCat("hierarchical allreduce on ", Who());
  ncclUniqueId id;
  if (layout_.local_rank == 0) {
    RETURN_IF_ERROR(
        NcclStatus(ncclGetUniqueId(&id), nullptr, absl::StrCat(who, ": ncclGetUniqueId")));
    const absl::Status published = job_.coordinator().KvSet(
        key, HexEncode(std::string_view(id.internal, sizeof(id.internal))), deadline);
    if (!published.ok()) {
      return absl::Status(published.code(), absl::StrCat(who, ": publishing the NCCL id of node ",
                                                         layout_.node, ": ", published.message()));
    }
  } else {
    absl::StatusOr<std::string> hex = job_.coordinator().KvGet(key, deadline);
    if (!hex.ok()) {
      return absl::Status(hex.status().code(),
                          absl::StrCat(who, ": waiting for the NCCL id of node ", layout_.node,
                                       " from its local rank 0: ", hex.status().message()));
    }
    absl::StatusOr<std::string> bytes = HexDecode(*hex, sizeof(id.internal));
    if (!bytes.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": the NCCL id under ", key, ": ", bytes.status().message()));
    }
    std::memcpy(id.internal, bytes->data(), sizeof(id.internal));
  }
  // Non-blocking: initialisation and every later call return at once (or ncclInProgress), so a
  // GPU that never joins costs a deadline, not a hang.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  const int ranks = layout_.local_size;
  const ncclResult_t started =
      ncclCommInitRankConfig(&nccl_, ranks, id, layout_.local_rank, &config);
  if (started != ncclSuccess && started != ncclInProgress) {
    absl::Status status = NcclStatus(started, nccl_, absl::StrCat(who, ": ncclCommInitRankConfig"));
    if (nccl_ != nullptr) ncclCommAbort(nccl_);
    nccl_ = nullptr;
    return status;
  }
  return SettleNccl(
      started, deadline,
      absl::StrCat(who, ": ncclCommInitRankConfig (", ranks, " GPUs of node ", layout_.node, ")"));
}

absl::Status HierarchicalAllreduce::SetUpCrossNode(const std::string& prefix,
                                                   const HierarchicalAllreduceOptions& options,
                                                   absl::Time deadline) {
  const std::string key = absl::StrCat(prefix, "cross_node/local", layout_.local_rank);
  const std::string who = absl::StrCat("hierarchical allreduce on ", Who());
  std::string announced;
  if (layout_.node == 0) {
    CoordinatorOptions coordinator;
    coordinator.world_size = layout_.num_nodes;
    coordinator.job_token = RandomToken();
    coordinator.job_id =
        absl::StrCat(job_.job_id(), "/hierarchical/", options.name, "/local", layout_.local_rank);
    if (!options.scenario_path.empty()) {
      ASSIGN_OR_RETURN(coordinator.scenario_text, ReadFile(options.scenario_path));
    }
    coordinator.bind_address = options.listen_host;
    coordinator.port = 0;
    coordinator.rendezvous_timeout = options.setup_timeout;
    absl::StatusOr<std::unique_ptr<CoordinatorServer>> server =
        CoordinatorServer::Start(coordinator);
    if (!server.ok()) {
      return absl::Status(
          server.status().code(),
          absl::StrCat(who, ": cross-node coordinator: ", server.status().message()));
    }
    cross_node_coordinator_ = *std::move(server);
    announced = absl::StrCat(options.listen_host, ":", cross_node_coordinator_->port(), " ",
                             coordinator.job_token);
    RETURN_IF_ERROR(job_.coordinator().KvSet(key, announced, deadline));
  } else {
    absl::StatusOr<std::string> value = job_.coordinator().KvGet(key, deadline);
    if (!value.ok()) {
      return absl::Status(value.status().code(),
                          absl::StrCat(who,
                                       ": waiting for node 0's cross-node coordinator of "
                                       "local rank ",
                                       layout_.local_rank, ": ", value.status().message()));
    }
    announced = *std::move(value);
  }
  const std::vector<std::string> parts = absl::StrSplit(announced, ' ');
  if (parts.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": malformed cross-node coordinator entry under ", key));
  }
  CommunicatorOptions cross;
  cross.rank = layout_.node;
  cross.world_size = layout_.num_nodes;
  cross.coordinator_address = parts[0];
  cross.job_token = parts[1];
  cross.listen_host = options.listen_host;
  cross.scenario_path = options.scenario_path;
  cross.ideal = options.scenario_path.empty();
  cross.setup_timeout = std::max(deadline - absl::Now(), absl::ZeroDuration());
  absl::StatusOr<std::unique_ptr<Communicator>> communicator = Communicator::Create(cross);
  if (!communicator.ok()) {
    return absl::Status(
        communicator.status().code(),
        absl::StrCat(who, ": cross-node communicator of local rank ", layout_.local_rank, " (",
                     layout_.num_nodes, " nodes): ", communicator.status().message()));
  }
  own_cross_node_ = *std::move(communicator);
  cross_node_ = own_cross_node_.get();
  return absl::OkStatus();
}

HierarchicalAllreduce::~HierarchicalAllreduce() {
  if (nccl_ != nullptr) {
    // Finalize flushes NCCL's own work, then Destroy frees it; a peer that is gone must not hold
    // up the destructor, so anything but a prompt success ends in Abort.
    ncclResult_t state = broken_.ok() ? ncclCommFinalize(nccl_) : ncclInternalError;
    const absl::Time until = absl::Now() + absl::Seconds(5);
    while (state == ncclInProgress && absl::Now() < until) {
      if (ncclCommGetAsyncError(nccl_, &state) != ncclSuccess) break;
      if (state == ncclInProgress) absl::SleepFor(kPollInterval);
    }
    if (state == ncclSuccess) {
      ncclCommDestroy(nccl_);
    } else {
      ncclCommAbort(nccl_);
    }
  }
  if (done_ != nullptr) cudaEventDestroy(done_);
  if (scratch_ != nullptr) cudaFree(scratch_);
}

absl::Status HierarchicalAllreduce::Fail(absl::Status status) {
  if (broken_.ok()) broken_ = status;
  if (nccl_ != nullptr) {
    // Abort, not destroy: it returns even while a kernel waits for a peer that will never come.
    ncclCommAbort(nccl_);
    nccl_ = nullptr;
  }
  return status;
}

absl::Status HierarchicalAllreduce::SettleNccl(ncclResult_t launched, absl::Time deadline,
                                               const std::string& what) {
  if (launched == ncclSuccess) return absl::OkStatus();
  if (launched != ncclInProgress) return Fail(NcclStatus(launched, nccl_, what));
  while (true) {
    ncclResult_t state = ncclInProgress;
    const ncclResult_t queried = ncclCommGetAsyncError(nccl_, &state);
    if (queried != ncclSuccess) return Fail(NcclStatus(queried, nccl_, what));
    if (state == ncclSuccess) return absl::OkStatus();
    if (state != ncclInProgress) return Fail(NcclStatus(state, nccl_, what));
    if (absl::Now() >= deadline) {
      return Fail(absl::DeadlineExceededError(
          absl::StrCat(what, ": NCCL had not finished by the deadline (a GPU of node ",
                       layout_.node, " did not join?); aborted the NCCL communicator")));
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::Status HierarchicalAllreduce::WaitNccl(cudaEvent_t event, absl::Time deadline,
                                             const std::string& what) {
  while (true) {
    const cudaError_t state = cudaEventQuery(event);
    if (state == cudaSuccess) return absl::OkStatus();
    if (state != cudaErrorNotReady) return Fail(CudaStatus(state, what));
    if (nccl_ != nullptr) {
      ncclResult_t async = ncclSuccess;
      const ncclResult_t queried = ncclCommGetAsyncError(nccl_, &async);
      if (queried != ncclSuccess) return Fail(NcclStatus(queried, nccl_, what));
      if (async != ncclSuccess && async != ncclInProgress) {
        return Fail(NcclStatus(async, nccl_, what));
      }
    }
    if (absl::Now() >= deadline) {
      return Fail(absl::DeadlineExceededError(
          absl::StrCat(what, ": not finished by the deadline (a GPU of node ", layout_.node,
                       " stopped taking part?); aborted the NCCL communicator")));
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::Status HierarchicalAllreduce::ReserveScratch(size_t bytes) {
  if (bytes <= scratch_bytes_) return absl::OkStatus();
  if (scratch_ != nullptr) cudaFree(scratch_);
  scratch_ = nullptr;
  scratch_bytes_ = 0;
  RETURN_IF_ERROR(CudaStatus(cudaMalloc(&scratch_, bytes),
                             absl::StrCat("hierarchical allreduce on ", Who(), ": cudaMalloc(",
                                          bytes, " bytes) for the padded copy")));
  scratch_bytes_ = bytes;
  return absl::OkStatus();
}

absl::Status HierarchicalAllreduce::Allreduce(void* data, size_t count, DataType type, ReduceOp op,
                                              const CollectiveOptions& options,
                                              cudaStream_t stream) {
  const std::string what = absl::StrCat("hierarchical allreduce on ", Who(), " (", count, " ",
                                        std::string(collectives::DataTypeName(type)), ", ",
                                        std::string(collectives::ReduceOpName(op)), ")");
  if (!broken_.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": an earlier call failed: ", broken_.message()));
  }
  if (!collectives::IsValidDataType(type) || !collectives::IsValidReduceOp(op)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": invalid data type or reduce op"));
  }
  if (count == 0) return absl::OkStatus();
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, data) != cudaSuccess ||
      (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged)) {
    cudaGetLastError();
    return absl::InvalidArgumentError(absl::StrCat(what, ": the buffer is not device memory"));
  }
  if (attributes.device != device_) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": the buffer is on device ",
                                                   attributes.device, ", this object on device ",
                                                   device_));
  }
  // The event, the scratch buffer and NCCL's stream work belong to Create's device.
  int caller_device = device_;
  RETURN_IF_ERROR(CudaStatus(cudaGetDevice(&caller_device), absl::StrCat(what, ": cudaGetDevice")));
  if (caller_device != device_) {
    RETURN_IF_ERROR(CudaStatus(cudaSetDevice(device_), absl::StrCat(what, ": cudaSetDevice")));
  }
  const absl::Cleanup restore_device = [caller_device, this] {
    if (caller_device != device_) cudaSetDevice(caller_device);
  };
  CollectiveOptions cross = options;
  cross.deadline = options.Deadline(absl::Now());
  cross.timeout = absl::InfiniteDuration();
  const absl::Time deadline = cross.deadline;

  if (nccl_ == nullptr) {
    // G = 1: the job's communicator stages the buffer itself, after the work on `stream`.
    RETURN_IF_ERROR(
        CudaStatus(cudaEventRecord(done_, stream), absl::StrCat(what, ": cudaEventRecord")));
    RETURN_IF_ERROR(WaitNccl(done_, deadline, absl::StrCat(what, ": the caller's stream")));
    if (cross_node_ == nullptr) return absl::OkStatus();
    return cross_node_->Allreduce(data, count, type, op, cross);
  }

  const int parts = layout_.local_size;
  const size_t element = collectives::DataTypeSize(type);
  const size_t shard = ShardElements(count, parts);
  const size_t padded = shard * static_cast<size_t>(parts);
  std::byte* work = static_cast<std::byte*>(data);
  if (padded != count) {
    // NCCL's shards are equal: reduce a zero-padded copy. The padding's results are dropped,
    // so its value does not matter for min and max either.
    RETURN_IF_ERROR(ReserveScratch(padded * element));
    work = static_cast<std::byte*>(scratch_);
    RETURN_IF_ERROR(
        CudaStatus(cudaMemcpyAsync(work, data, count * element, cudaMemcpyDeviceToDevice, stream),
                   absl::StrCat(what, ": cudaMemcpyAsync into the padded copy")));
    RETURN_IF_ERROR(
        CudaStatus(cudaMemsetAsync(work + count * element, 0, (padded - count) * element, stream),
                   absl::StrCat(what, ": cudaMemsetAsync of the padding")));
  }
  std::byte* own_shard = work + static_cast<size_t>(layout_.local_rank) * shard * element;

  const std::string scatter =
      absl::StrCat(what, ": NCCL reduce-scatter inside node ", layout_.node);
  RETURN_IF_ERROR(SettleNccl(
      ncclReduceScatter(work, own_shard, shard, NcclType(type), NcclOp(op), nccl_, stream),
      deadline, scatter));
  RETURN_IF_ERROR(
      CudaStatus(cudaEventRecord(done_, stream), absl::StrCat(scatter, ": cudaEventRecord")));
  RETURN_IF_ERROR(WaitNccl(done_, deadline, scatter));

  if (cross_node_ != nullptr) {
    const absl::Status crossed = cross_node_->Allreduce(
        own_shard, shard, type, op == ReduceOp::kAvg ? ReduceOp::kSum : op, cross);
    if (!crossed.ok()) {
      // The node's other GPUs would wait in the allgather for this one: abort NCCL so that this
      // object fails fast from now on; they fail at their deadline.
      return Fail(absl::Status(
          crossed.code(), absl::StrCat(what, ": cross-node allreduce of shard ", layout_.local_rank,
                                       " (", shard, " elements): ", crossed.message())));
    }
  }
  if (op == ReduceOp::kAvg) {
    RETURN_IF_ERROR(
        collectives::cuda::DeviceFinalize(own_shard, shard, type, op, layout_.world_size, stream));
  }
  const std::string gather = absl::StrCat(what, ": NCCL allgather inside node ", layout_.node);
  RETURN_IF_ERROR(SettleNccl(ncclAllGather(own_shard, work, shard, NcclType(type), nccl_, stream),
                             deadline, gather));
  if (work != data) {
    RETURN_IF_ERROR(
        CudaStatus(cudaMemcpyAsync(data, work, count * element, cudaMemcpyDeviceToDevice, stream),
                   absl::StrCat(what, ": cudaMemcpyAsync out of the padded copy")));
  }
  RETURN_IF_ERROR(
      CudaStatus(cudaEventRecord(done_, stream), absl::StrCat(gather, ": cudaEventRecord")));
  return WaitNccl(done_, deadline, gather);
}

}  // namespace crosslink::runtime
