#include "common/training_job.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::examples {

std::string TrainingJob::scenario_name() const {
  return comm->scenario() != nullptr ? comm->scenario()->name : "none (ideal links)";
}

std::pair<int, int> TrainingJob::shard() const {
  const std::vector<int> live = collectives->live_ranks();
  for (size_t i = 0; i < live.size(); ++i) {
    if (live[i] == rank()) return {static_cast<int>(i), static_cast<int>(live.size())};
  }
  return {rank(), world_size()};
}

absl::StatusOr<TrainingJob> JoinJob(const std::string& scenario_flag, absl::Duration timeout,
                                    std::string_view program, bool elastic) {
  // The communicator reads it (and CROSSLINK_RESTART_COUNT, which crosslink-run --max-restarts
  // sets in a restarted process: it then rejoins).
  if (elastic) setenv("CROSSLINK_ELASTIC", "1", 1);
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
  if (elastic) {
    job.state = std::make_unique<crosslink::torch::ElasticState>();
    job.trainer =
        std::make_unique<crosslink::torch::ElasticTrainer>(job.collectives, job.state.get());
  }
  if (job.leader() && !scenario_flag.empty() && job.comm->scenario() == nullptr) {
    std::fprintf(stderr,
                 "%.*s: note: --scenario %s ignored: the job's coordinator serves no "
                 "scenario\n",
                 static_cast<int>(program.size()), program.data(), scenario_flag.c_str());
  }
  return job;
}

absl::Status BroadcastParameters(TrainingJob& job, const std::vector<at::Tensor>& parameters) {
  if (job.elastic()) return absl::OkStatus();
  for (const at::Tensor& parameter : parameters) {
    RETURN_IF_ERROR(job.collectives->Broadcast(parameter.data(), 0));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> TrainingStart(TrainingJob& job) {
  const absl::Time now = absl::Now();
  if (!job.elastic()) return now;
  constexpr char kKey[] = "examples/train_start_unix_us";
  const absl::Time deadline = now + absl::Seconds(60);
  if (job.rank() == 0 && job.comm->has_state()) {
    RETURN_IF_ERROR(
        job.comm->coordinator().KvSet(kKey, absl::StrCat(absl::ToUnixMicros(now)), deadline));
    return now;
  }
  ASSIGN_OR_RETURN(const std::string text, job.comm->coordinator().KvGet(kKey, deadline));
  int64_t micros = 0;
  if (!absl::SimpleAtoi(text, &micros)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the job's training start \"", text.substr(0, 40), "\" is no number"));
  }
  return absl::FromUnixMicros(micros);
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
  if (job.elastic()) {
    // Until every survivor passed the barrier in one epoch (a rank that rejoins now syncs first).
    bool committed = false;
    while (!committed) {
      ASSIGN_OR_RETURN(const crosslink::torch::ElasticStepResult result,
                       job.trainer->Step([&] { return job.collectives->Barrier(); }, nullptr));
      committed = result.committed;
    }
  } else {
    RETURN_IF_ERROR(job.collectives->Barrier());
  }
  if (job.leader()) {
    std::printf("final %s=%.4f outages=%lld wall_s=%.1f membership_changes=%lld\n",
                std::string(metric).c_str(), value, static_cast<long long>(outages), wall_s,
                static_cast<long long>(job.membership_changes()));
    std::fflush(stdout);
  }
  return absl::OkStatus();
}

}  // namespace crosslink::examples
