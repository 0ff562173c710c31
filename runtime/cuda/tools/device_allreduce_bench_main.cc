// crosslink-device-allreduce-bench: one rank of a job (under crosslink-run, torchrun, srun...)
// that times the Communicator's allreduce of the same buffer in host memory and in device memory
// (staged, device_collectives.h), or the hierarchical allreduce (hierarchical_allreduce.h), and
// checks every result. Rank 0 prints the figures; bench/gpu_check.sh runs it on the GPU machine.
//
//   crosslink-run -n 4 -- crosslink-device-allreduce-bench [--mib 64] [--iters 10]
//       [--mode flat|hierarchical] [--gpus-per-node G] [--nccl-one-gpu] [--stage-mib M]
//
// flat: times host buffers and device buffers in alternating rounds (so a drifting load on the
// shared GPU and cores weighs on both alike) and prints their ratio (device/host time);
// --stage-mib sets CollectiveOptions::device_stage_bytes (the staged pieces' size).
// hierarchical: G GPUs per node (default the launcher's local world size; ranks on one machine
// share its GPUs round-robin), timed against the flat device-buffer allreduce. Exit status: 0 on
// success, 1 on a failed collective or a wrong result, 2 for bad flags, 3 when the hierarchical
// allreduce could not be set up (NCCL refuses two ranks on one GPU: the message says so).
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crosslink/base/flags.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/cuda/hierarchical_allreduce.h"
#include "crosslink/runtime/launch_env.h"
#include "crosslink/runtime/node_layout.h"

namespace crosslink::runtime {
namespace {

using collectives::DataType;
using collectives::ReduceOp;

struct Flags {
  int mib = 64;
  int iters = 10;
  std::string mode = "flat";
  int gpus_per_node = 0;  // 0: the launcher's local world size
  bool nccl_one_gpu = false;
  int stage_mib = 0;  // 0: kDeviceSegmentBytes
};

constexpr char kUsage[] =
    "usage: crosslink-run -n N -- crosslink-device-allreduce-bench [--mib 64] [--iters 10]\n"
    "           [--mode flat|hierarchical] [--gpus-per-node G] [--nccl-one-gpu] [--stage-mib M]\n";

// Parses argv into *flags; nullopt to carry on, else the exit code (2 for bad flags).
std::optional<int> ParseFlags(int argc, char** argv, Flags* flags) {
  base::FlagSet set("crosslink-device-allreduce-bench", kUsage);
  set.Int("mib", &flags->mib, "buffer size in MiB").Min(1);
  set.Int("iters", &flags->iters, "timed iterations").Min(1);
  set.Choice("mode", &flags->mode, {"flat", "hierarchical"},
             "host against device buffers, or the hierarchical allreduce");
  set.Int("gpus-per-node", &flags->gpus_per_node, "hierarchical: GPUs per node")
      .Min(1)
      .ValueName("G")
      .DefaultText("the launcher's local world size");
  set.Switch("nccl-one-gpu", &flags->nccl_one_gpu, "run the NCCL steps even with one GPU per node");
  set.Int("stage-mib", &flags->stage_mib, "flat: staged pieces' size in MiB")
      .Min(1)
      .ValueName("M")
      .DefaultText("");
  return set.ParseMain(argc, argv);
}

// Times `iters` runs of `run` (after one warm-up run) between barriers, so every rank's clock
// spans the same collectives. Returns seconds per run.
absl::StatusOr<double> Time(Communicator& comm, int iters,
                            const std::function<absl::Status()>& run) {
  if (absl::Status s = run(); !s.ok()) return s;
  if (absl::Status s = comm.Barrier(); !s.ok()) return s;
  const absl::Time start = absl::Now();
  for (int i = 0; i < iters; ++i) {
    if (absl::Status s = run(); !s.ok()) return s;
  }
  if (absl::Status s = comm.Barrier(); !s.ok()) return s;
  return absl::ToDoubleSeconds(absl::Now() - start) / iters;
}

// Fills with rank + 1, reduces once with `run`, counts elements that are not the sum.
template <typename Fill, typename Read>
absl::StatusOr<size_t> Check(Communicator& comm, size_t count, Fill fill, Read read,
                             const std::function<absl::Status()>& run) {
  std::vector<float> host(count, static_cast<float>(comm.rank() + 1));
  fill(host);
  if (absl::Status s = run(); !s.ok()) return s;
  read(host);
  const float n = static_cast<float>(comm.world_size());
  const float expected = n * (n + 1) / 2;
  size_t wrong = 0;
  for (float v : host) wrong += v != expected;
  return wrong;
}

void Report(const Communicator& comm, std::string_view what, size_t bytes, double seconds,
            size_t wrong) {
  if (comm.rank() != 0) return;
  const double n = comm.world_size();
  const double algbw = bytes / seconds / 1e9;
  std::printf("%-26s %10.3f ms  algbw %7.2f GB/s  busbw %7.2f GB/s  #wrong %zu\n",
              std::string(what).c_str(), seconds * 1e3, algbw, algbw * 2 * (n - 1) / n, wrong);
}

int Main(int argc, char** argv) {
  Flags flags;
  if (std::optional<int> exit_code = ParseFlags(argc, argv, &flags)) return *exit_code;
  absl::StatusOr<LaunchEnv> env = LaunchEnvFromProcess();
  if (!env.ok()) {
    std::fprintf(stderr, "%s\n", env.status().ToString().c_str());
    return 2;
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::fprintf(stderr, "rank %d: no CUDA device\n", env->rank);
    return 1;
  }
  const int local_size = flags.gpus_per_node > 0 ? flags.gpus_per_node : env->local_world_size;
  cudaSetDevice((env->rank % local_size) % devices);
  absl::StatusOr<std::unique_ptr<Communicator>> comm =
      Communicator::CreateFromEnvironment(absl::Seconds(120));
  if (!comm.ok()) {
    std::fprintf(stderr, "%s\n", comm.status().ToString().c_str());
    return 1;
  }
  const size_t bytes = static_cast<size_t>(flags.mib) << 20;
  const size_t count = bytes / sizeof(float);
  std::vector<float> host(count);
  void* device = nullptr;
  if (cudaMalloc(&device, bytes) != cudaSuccess) {
    std::fprintf(stderr, "rank %d: cudaMalloc(%zu) failed\n", env->rank, bytes);
    return 1;
  }
  auto fill_device = [&](std::vector<float>& v) {
    cudaMemcpy(device, v.data(), bytes, cudaMemcpyHostToDevice);
  };
  auto read_device = [&](std::vector<float>& v) {
    cudaMemcpy(v.data(), device, bytes, cudaMemcpyDeviceToHost);
  };
  CollectiveOptions device_options;
  device_options.device_stage_bytes = static_cast<size_t>(flags.stage_mib) << 20;
  auto flat_device = [&] {
    return (*comm)->Allreduce(device, count, DataType::kFloat32, ReduceOp::kSum, device_options);
  };
  if ((*comm)->rank() == 0) {
    std::printf("ranks %d, %d MiB float32 sum, %d iterations, %d GPU(s) visible\n",
                (*comm)->world_size(), flags.mib, flags.iters, devices);
  }
  int exit_code = 0;
  auto fail = [&](const absl::Status& status) {
    std::fprintf(stderr, "rank %d: %s\n", (*comm)->rank(), status.ToString().c_str());
    exit_code = 1;
  };

  if (flags.mode == "flat") {
    auto flat_host = [&] {
      return (*comm)->Allreduce(host.data(), count, DataType::kFloat32, ReduceOp::kSum);
    };
    absl::StatusOr<size_t> host_wrong = Check(
        **comm, count, [&](std::vector<float>& v) { host = v; },
        [&](std::vector<float>& v) { v = host; }, flat_host);
    absl::StatusOr<size_t> device_wrong =
        Check(**comm, count, fill_device, read_device, flat_device);
    // Alternating rounds; each round's Time warms up once more, which the average leaves out.
    constexpr int kRounds = 3;
    absl::StatusOr<double> host_s = 0.0, device_s = 0.0;
    for (int round = 0; round < kRounds && host_s.ok() && device_s.ok(); ++round) {
      absl::StatusOr<double> h = Time(**comm, flags.iters, flat_host);
      absl::StatusOr<double> d = h.ok() ? Time(**comm, flags.iters, flat_device) : h;
      host_s = h.ok() ? absl::StatusOr<double>(*host_s + *h / kRounds) : h.status();
      device_s = d.ok() ? absl::StatusOr<double>(*device_s + *d / kRounds) : d.status();
    }
    for (const absl::Status& s :
         {host_wrong.status(), host_s.status(), device_wrong.status(), device_s.status()}) {
      if (!s.ok()) {
        fail(s);
        return exit_code;
      }
    }
    Report(**comm, "allreduce host buffers", bytes, *host_s, *host_wrong);
    Report(**comm, "allreduce device buffers", bytes, *device_s, *device_wrong);
    if ((*comm)->rank() == 0) {
      std::printf("ratio device/host time %.3f\n", *device_s / *host_s);
    }
    if (*host_wrong != 0 || *device_wrong != 0) exit_code = 1;
  } else {
    absl::StatusOr<NodeLayout> layout =
        MakeNodeLayout(env->rank, env->world_size, env->rank % local_size, local_size);
    if (!layout.ok()) {
      fail(layout.status());
      return 2;
    }
    HierarchicalAllreduceOptions options;
    options.nccl_with_one_gpu = flags.nccl_one_gpu;
    // NCCL refuses a duplicate GPU within seconds; a minute would only waste the check's time.
    options.setup_timeout = absl::Seconds(30);
    absl::StatusOr<std::unique_ptr<HierarchicalAllreduce>> hierarchical =
        HierarchicalAllreduce::Create(**comm, *layout, options);
    if (!hierarchical.ok()) {
      std::fprintf(stderr, "rank %d: hierarchical allreduce set-up failed: %s\n", env->rank,
                   hierarchical.status().ToString().c_str());
      return 3;
    }
    auto run = [&] {
      return (*hierarchical)->Allreduce(device, count, DataType::kFloat32, ReduceOp::kSum);
    };
    absl::StatusOr<size_t> wrong = Check(**comm, count, fill_device, read_device, run);
    absl::StatusOr<double> seconds = Time(**comm, flags.iters, run);
    absl::StatusOr<double> flat_s = Time(**comm, flags.iters, flat_device);
    for (const absl::Status& s : {wrong.status(), seconds.status(), flat_s.status()}) {
      if (!s.ok()) {
        fail(s);
        return exit_code;
      }
    }
    if ((*comm)->rank() == 0) {
      std::printf("hierarchical: %d node(s) x %d GPU(s), NCCL steps %s\n", layout->num_nodes,
                  layout->local_size, (*hierarchical)->uses_nccl() ? "on" : "off");
    }
    Report(**comm, "hierarchical allreduce", bytes, *seconds, *wrong);
    Report(**comm, "flat allreduce (device)", bytes, *flat_s, 0);
    if (*wrong != 0) exit_code = 1;
  }
  cudaFree(device);
  return exit_code;
}

}  // namespace
}  // namespace crosslink::runtime

int main(int argc, char** argv) { return crosslink::runtime::Main(argc, argv); }
