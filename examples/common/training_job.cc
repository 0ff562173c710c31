#include "common/training_job.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::examples {

std::string TrainingJob::scenario_name() const {
  return comm->scenario() != nullptr ? comm->scenario()->name : "none (ideal links)";
}

absl::StatusOr<TrainingJob> JoinJob(const std::string& scenario_flag, absl::Duration timeout,
                                    std::string_view program) {
  if (!scenario_flag.empty()) {
    const char* launched = std::getenv("CROSSLINK_SCENARIO");
    if (launched == nullptr || *launched == '\0') {
      setenv("CROSSLINK_SCENARIO", scenario_flag.c_str(), 1);
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<runtime::Communicator> created,
                   runtime::Communicator::CreateFromEnvironment(timeout));
  TrainingJob job;
  job.comm = std::move(created);
  job.collectives = std::make_shared<crosslink::torch::TensorCollectives>(job.comm);
  if (job.leader() && !scenario_flag.empty() && job.comm->scenario() == nullptr) {
    std::fprintf(stderr,
                 "%.*s: note: --scenario %s ignored: the job's coordinator serves no "
                 "scenario\n",
                 static_cast<int>(program.size()), program.data(), scenario_flag.c_str());
  }
  return job;
}

absl::Status BroadcastParameters(TrainingJob& job, const std::vector<at::Tensor>& parameters) {
  for (const at::Tensor& parameter : parameters) {
    RETURN_IF_ERROR(job.collectives->Broadcast(parameter.data(), 0));
  }
  return absl::OkStatus();
}

absl::Status SumOverRanks(TrainingJob& job, std::vector<double>& values) {
  at::Tensor tensor = at::tensor(values, at::kDouble);
  RETURN_IF_ERROR(job.collectives->Allreduce(tensor, collectives::ReduceOp::kSum));
  for (size_t i = 0; i < values.size(); ++i) values[i] = tensor[i].item<double>();
  return absl::OkStatus();
}

std::pair<std::vector<std::pair<double, double>>, std::string> RankZeroOutages(
    const TrainingJob& job, absl::Time train_start, double until_s) {
  std::vector<std::pair<double, double>> intervals;
  const runtime::Communicator& comm = *job.comm;
  const auto plan = comm.true_plan();
  const auto clock = comm.clock();
  if (plan == nullptr || clock == nullptr) {
    return {intervals, "ideal links: no scenario, no outages"};
  }
  const std::vector<int>& sats = comm.rank_satellites();
  // 2000 samples resolve outages down to 1/2000 of the run, finer than a plot's pixels.
  constexpr int kSamples = 2000;
  std::optional<double> open;
  for (int i = 0; i <= kSamples && until_s > 0; ++i) {
    const double wall_s = until_s * i / kSamples;
    const double orbit_s = clock->OrbitAt(train_start + absl::Seconds(wall_s));
    bool down = false;
    // Only direct crosslinks: Up() of a pair without one (a routed pair) is always false.
    for (int peer = 1; peer < comm.world_size() && !down; ++peer) {
      down = plan->FindLink(sats[0], sats[peer]).has_value() &&
             !plan->Up(sats[0], sats[peer], orbit_s);
    }
    if (down && !open) open = wall_s;
    if (!down && open) {
      intervals.emplace_back(*open, wall_s);
      open.reset();
    }
  }
  if (open) intervals.emplace_back(*open, until_s);
  return {intervals,
          absl::StrCat(
              "shaded: rank 0's direct links down in scenario ", comm.scenario()->name,
              " (true contact plan, sampled); outages rank 0's links met: ", comm.outages_met())};
}

uint64_t ParameterDigest(const std::vector<at::Tensor>& parameters) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a offset basis
  for (const at::Tensor& parameter : parameters) {
    const at::Tensor bytes = parameter.detach().to(at::kCPU).contiguous();
    const auto* data = static_cast<const unsigned char*>(bytes.data_ptr());
    const size_t n = static_cast<size_t>(bytes.numel()) * bytes.element_size();
    for (size_t i = 0; i < n; ++i) {
      hash ^= data[i];
      hash *= 1099511628211ull;  // FNV prime
    }
  }
  return hash;
}

void SetOneTorchThread() { at::set_num_threads(1); }

absl::Status FinishJob(TrainingJob& job, std::string_view metric, double value, int64_t outages,
                       double wall_s) {
  RETURN_IF_ERROR(job.collectives->Barrier());
  if (job.leader()) {
    std::printf("final %s=%.4f outages=%lld wall_s=%.1f\n", std::string(metric).c_str(), value,
                static_cast<long long>(outages), wall_s);
    std::fflush(stdout);
  }
  return absl::OkStatus();
}

}  // namespace crosslink::examples
