// crosslink-bucket-overlap-bench: how much of the gradient allreduce the GradientBucketer hides
// behind backward. Every rank runs training steps (forward, backward, optimiser step) of the same
// model on synthetic data twice over: once with no communication at all, once with the
// gradients averaged by a GradientBucketer over the job's links (ideal: plain loopback TCP). The
// ratio of the two step times is the overhead a data-parallel job pays for its allreduces; with
// the buckets overlapping backward it should stay near 1 (issue 5's figure: <= 1.15).
//
//   crosslink-bucket-overlap-bench [--ranks N] [--model cnn|mlp] [--batch B] [--steps S]
//                                  [--rounds R] [--bucket-kib K] [--mlp-width W] [--csv OUT]
//
// Run without RANK in the environment it launches N ranks of itself through the launcher that
// crosslink-run uses. The two variants alternate in R rounds of S steps (after a warm-up round),
// each round started by a barrier, so load from other processes on the machine falls on both
// alike. A variant's step time is the slowest rank's mean (the job moves at its slowest rank's
// pace). Rank 0 prints the table and the ratio, and with --csv writes
// "model,ranks,batch,parameters,gradient_bytes,step_ms_no_comm,step_ms_buckets,ratio".
// Exit status: 0 on success, 1 on a runtime error, 2 on bad usage.
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crosslink/base/flags.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/launcher.h"
#include "crosslink/torch/gradient_bucketer.h"
#include "crosslink/torch/tensor_collectives.h"
#include "examples/fashion_mnist/fashion_cnn.h"

namespace crosslink::bench {
namespace {

struct Args {
  int ranks = 2;
  std::string model = "cnn";
  int64_t batch = 64;
  int steps = 10;  // per round and variant
  int rounds = 4;  // after one warm-up round
  int64_t bucket_kib = 64;
  int64_t mlp_width = 1024;
  std::string csv;
};

constexpr char kUsage[] =
    "usage: crosslink-bucket-overlap-bench [--ranks N] [--model cnn|mlp] [--batch B] [--steps S]\n"
    "         [--rounds R] [--bucket-kib K] [--mlp-width W] [--csv OUT]\n";

// Parses argv into *args; nullopt to carry on, else the exit code.
std::optional<int> ParseArgs(int argc, char** argv, Args* args) {
  base::FlagSet flags("crosslink-bucket-overlap-bench", kUsage);
  flags.Int("ranks", &args->ranks, "ranks to launch").Min(1);
  flags.Choice("model", &args->model, {"cnn", "mlp"}, "the model under test");
  flags.Int64("batch", &args->batch, "examples per rank per step").Min(1);
  flags.Int("steps", &args->steps, "steps per round and variant").Min(1);
  flags.Int("rounds", &args->rounds, "timed rounds after one warm-up round").Min(1);
  flags.Int64("bucket-kib", &args->bucket_kib, "gradient bucket size in KiB").Min(1);
  flags.Int64("mlp-width", &args->mlp_width, "the MLP's hidden width").Min(1).ValueName("W");
  flags.String("csv", &args->csv, "write the results as CSV here").ValueName("OUT");
  return flags.ParseMain(argc, argv);
}

// The model under test: Fashion-MNIST's CNN (compute-heavy for its 0.2 M parameters) or a
// three-layer MLP on the same 28x28 inputs (W x W weights: as many bytes to send as flops per
// example, the harder case for overlap).
std::shared_ptr<::torch::nn::Module> MakeModel(const Args& args) {
  if (args.model == "cnn") return examples::FashionCnn().ptr();
  return ::torch::nn::Sequential(::torch::nn::Flatten(),
                                 ::torch::nn::Linear(28 * 28, args.mlp_width), ::torch::nn::ReLU(),
                                 ::torch::nn::Linear(args.mlp_width, args.mlp_width),
                                 ::torch::nn::ReLU(), ::torch::nn::Linear(args.mlp_width, 10))
      .ptr();
}

::torch::Tensor Forward(const std::shared_ptr<::torch::nn::Module>& model,
                        const ::torch::Tensor& x) {
  if (auto cnn = std::dynamic_pointer_cast<examples::FashionCnnImpl>(model)) {
    return cnn->forward(x);
  }
  return std::dynamic_pointer_cast<::torch::nn::SequentialImpl>(model)->forward(x);
}

// One variant's training step: forward, backward, (sync), optimiser step.
struct Variant {
  std::shared_ptr<::torch::nn::Module> model;
  std::unique_ptr<::torch::optim::SGD> optimizer;
  std::unique_ptr<crosslink::torch::GradientBucketer> bucketer;  // null: no communication

  absl::Status Step(const ::torch::Tensor& images, const ::torch::Tensor& labels) {
    optimizer->zero_grad();
    const auto loss = ::torch::nn::functional::cross_entropy(Forward(model, images), labels);
    loss.backward();
    if (bucketer) RETURN_IF_ERROR(bucketer->FinishSync(absl::Now() + absl::Minutes(2)));
    optimizer->step();
    return absl::OkStatus();
  }
};

absl::StatusOr<double> MaxOverRanks(crosslink::torch::TensorCollectives& collectives,
                                    double value) {
  auto tensor = ::torch::tensor({value}, ::torch::kFloat64);
  RETURN_IF_ERROR(collectives.Allreduce(tensor, collectives::ReduceOp::kMax));
  return tensor[0].item<double>();
}

absl::Status RunRank(const Args& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<runtime::Communicator> created,
                   runtime::Communicator::CreateFromEnvironment(absl::Seconds(60)));
  std::shared_ptr<runtime::Communicator> comm = std::move(created);
  auto collectives = std::make_shared<crosslink::torch::TensorCollectives>(comm);

  ::torch::manual_seed(1);
  Variant plain{MakeModel(args)};
  Variant synced{MakeModel(args)};
  int64_t parameters = 0;
  for (const auto& p : plain.model->parameters()) parameters += p.numel();
  for (Variant* v : {&plain, &synced}) {
    v->optimizer = std::make_unique<::torch::optim::SGD>(v->model->parameters(),
                                                         ::torch::optim::SGDOptions(1e-3));
  }
  crosslink::torch::GradientBucketerOptions options;
  options.bucket_bytes = static_cast<size_t>(args.bucket_kib) << 10;
  ASSIGN_OR_RETURN(synced.bucketer, crosslink::torch::GradientBucketer::Create(
                                        collectives, synced.model->parameters(), options));
  const auto images = ::torch::randn({args.batch, 1, 28, 28});
  const auto labels = ::torch::randint(10, {args.batch}, ::torch::kLong);

  // Round 0 warms both variants up (allocator, connections) and is not counted.
  absl::Duration spent[2] = {absl::ZeroDuration(), absl::ZeroDuration()};
  for (int round = 0; round <= args.rounds; ++round) {
    for (int v = 0; v < 2; ++v) {
      Variant& variant = v == 0 ? plain : synced;
      RETURN_IF_ERROR(collectives->Barrier());
      const absl::Time start = absl::Now();
      for (int s = 0; s < args.steps; ++s) RETURN_IF_ERROR(variant.Step(images, labels));
      if (round > 0) spent[v] += absl::Now() - start;
    }
  }
  const double steps = static_cast<double>(args.steps) * args.rounds;
  ASSIGN_OR_RETURN(const double plain_ms,
                   MaxOverRanks(*collectives, absl::ToDoubleMilliseconds(spent[0]) / steps));
  ASSIGN_OR_RETURN(const double synced_ms,
                   MaxOverRanks(*collectives, absl::ToDoubleMilliseconds(spent[1]) / steps));
  const double ratio = synced_ms / plain_ms;
  if (comm->rank() == 0) {
    const int64_t gradient_bytes = parameters * 4;
    std::printf(
        "# crosslink-bucket-overlap-bench: model %s, %lld parameters (%lld bytes of fp32 "
        "gradients), batch %lld per rank, %d ranks, ideal links, %lld KiB buckets, %d rounds of "
        "%d steps per variant\n",
        args.model.c_str(), static_cast<long long>(parameters),
        static_cast<long long>(gradient_bytes), static_cast<long long>(args.batch),
        comm->world_size(), static_cast<long long>(args.bucket_kib), args.rounds, args.steps);
    std::printf("%-24s %14s\n", "# variant", "step_ms");
    std::printf("%-24s %14.2f\n", "no communication", plain_ms);
    std::printf("%-24s %14.2f\n", "gradient buckets", synced_ms);
    std::printf("ratio %.3f (buckets / no communication; issue 5 asks <= 1.15)\n", ratio);
    std::fflush(stdout);
    if (!args.csv.empty()) {
      std::ofstream out(args.csv);
      out << "model,ranks,batch,parameters,gradient_bytes,step_ms_no_comm,step_ms_buckets,ratio\n"
          << absl::StrFormat("%s,%d,%d,%d,%d,%.3f,%.3f,%.4f\n", args.model, comm->world_size(),
                             args.batch, parameters, gradient_bytes, plain_ms, synced_ms, ratio);
      out.close();
      if (!out) return absl::UnavailableError(absl::StrCat("cannot write CSV file ", args.csv));
    }
  }
  return collectives->Barrier();
}

// The launcher side: N ranks of this very program, ideal links.
int LaunchSelf(const Args& args, int argc, char** argv) {
  runtime::LaunchOptions launch;
  launch.num_ranks = args.ranks;
  launch.command.push_back(std::filesystem::read_symlink("/proc/self/exe").string());
  for (int i = 1; i < argc; ++i) launch.command.push_back(argv[i]);
  launch.timeout = absl::Minutes(20);
  launch.output = runtime::OutputMode::kPassThrough;  // rank 0's table, unprefixed
  absl::StatusOr<runtime::LaunchResult> result = runtime::RunLocalJob(launch);
  if (!result.ok()) {
    std::fprintf(stderr, "crosslink-bucket-overlap-bench: %s\n",
                 result.status().ToString().c_str());
    return 2;
  }
  if (result->exit_code != 0) {
    std::fprintf(stderr, "crosslink-bucket-overlap-bench: %s\n", result->summary.c_str());
  }
  return result->exit_code;
}

}  // namespace
}  // namespace crosslink::bench

int main(int argc, char** argv) {
  crosslink::bench::Args args;
  if (std::optional<int> exit_code = crosslink::bench::ParseArgs(argc, argv, &args)) {
    return *exit_code;
  }
  if (std::getenv("RANK") == nullptr) return crosslink::bench::LaunchSelf(args, argc, argv);
  // One compute thread per rank: the ranks share the machine's cores.
  ::torch::set_num_threads(1);
  const absl::Status status = crosslink::bench::RunRank(args);
  if (!status.ok()) {
    std::fprintf(stderr, "crosslink-bucket-overlap-bench rank %s: %s\n", std::getenv("RANK"),
                 status.ToString().c_str());
    return 1;
  }
  return 0;
}
