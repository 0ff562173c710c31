// train_fashion_mnist: data-parallel training of a small CNN (fashion_cnn.h) on Fashion-MNIST
// over a Crosslink job, the way a user's training program would use the runtime.
//
//   crosslink-run -n 4 [--scenario bench/scenarios/starlink-shell1.toml] -- \
//       train_fashion_mnist [--epochs E] [--batch B] [--lr LR] [--csv OUT] [--plot OUT.png]
//                           [--train-limit N] [--scenario FILE] [--data DIR] [--seed S]
//
// Every rank joins through Communicator::CreateFromEnvironment (crosslink-run, Slurm, Open MPI or
// torchrun-style variables), starts from rank 0's weights (broadcast), trains on its shard of
// the training set (a permutation shared by all ranks, dealt out round-robin), and averages
// gradients with a GradientBucketer, whose allreduces overlap backward. Each epoch ends with a
// test pass over every rank's shard of the test set. Rank 0 prints progress and per-epoch figures
// to stderr, writes the CSV and PNG, and prints as its last stdout line:
//   final test_accuracy=<fraction> outages=<count> wall_s=<seconds>
// Exit status: 0 on success, 1 on a runtime error (printed with its status), 2 on bad usage.
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/torch/gradient_bucketer.h"
#include "crosslink/torch/tensor_collectives.h"
#include "fashion_cnn.h"
#include "idx_dataset.h"
#include "training_report.h"

namespace crosslink::examples {
namespace {

struct Flags {
  std::string scenario;
  int epochs = 3;
  int64_t batch = 64;  // per rank
  double lr = 1e-3;
  std::string csv;
  std::string plot;
  int64_t train_limit = 0;  // 0: the whole training set
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  uint64_t seed = 1;
};

constexpr char kUsage[] =
    "usage: crosslink-run -n N [--scenario FILE] -- train_fashion_mnist [--scenario FILE]\n"
    "         [--epochs E] [--batch B] [--lr LR] [--csv OUT] [--plot OUT.png] [--train-limit N]\n"
    "         [--data DIR] [--seed S]\n";

absl::StatusOr<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
    const char* value = argv[++i];
    bool ok = true;
    if (arg == "--scenario") {
      flags.scenario = value;
    } else if (arg == "--epochs") {
      ok = absl::SimpleAtoi(value, &flags.epochs) && flags.epochs > 0;
    } else if (arg == "--batch") {
      ok = absl::SimpleAtoi(value, &flags.batch) && flags.batch > 0;
    } else if (arg == "--lr") {
      ok = absl::SimpleAtod(value, &flags.lr) && flags.lr > 0;
    } else if (arg == "--csv") {
      flags.csv = value;
    } else if (arg == "--plot") {
      flags.plot = value;
    } else if (arg == "--train-limit") {
      ok = absl::SimpleAtoi(value, &flags.train_limit) && flags.train_limit >= 0;
    } else if (arg == "--data") {
      flags.data_dir = value;
    } else if (arg == "--seed") {
      ok = absl::SimpleAtoi(value, &flags.seed);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
    }
    if (!ok) return absl::InvalidArgumentError(absl::StrCat("bad value \"", value, "\" for ", arg));
  }
  return flags;
}

// Sums `values` over the ranks (one small allreduce).
absl::Status SumOverRanks(crosslink::torch::TensorCollectives& collectives,
                          std::vector<double>& values) {
  auto tensor = ::torch::tensor(values, ::torch::kFloat64);
  RETURN_IF_ERROR(collectives.Allreduce(tensor, collectives::ReduceOp::kSum));
  for (size_t i = 0; i < values.size(); ++i) values[i] = tensor[i].item<double>();
  return absl::OkStatus();
}

// Fraction of this rank's share of `data` (every world_size-th example) the model classifies
// right, over every rank's share: the test accuracy of the whole set.
absl::StatusOr<double> Evaluate(FashionCnn& model, crosslink::torch::TensorCollectives& collectives,
                                const IdxDataset& data) {
  ::torch::NoGradGuard no_grad;
  model->eval();
  const auto shard = ::torch::arange(collectives.rank(), data.size(), collectives.world_size());
  double correct = 0;
  constexpr int64_t kEvalBatch = 500;
  for (int64_t begin = 0; begin < shard.size(0); begin += kEvalBatch) {
    const auto index = shard.slice(0, begin, std::min(begin + kEvalBatch, shard.size(0)));
    const auto prediction = model->forward(data.images.index_select(0, index)).argmax(1);
    correct += prediction.eq(data.labels.index_select(0, index)).sum().item<double>();
  }
  model->train();
  std::vector<double> totals = {correct, static_cast<double>(shard.size(0))};
  RETURN_IF_ERROR(SumOverRanks(collectives, totals));
  return totals[1] > 0 ? totals[0] / totals[1] : 0.0;
}

// The wall-second intervals (since `train_start`) in which a direct crosslink between rank 0's
// satellite and another rank's was down in the scenario's true contact plan, sampled at kSamples
// points over [0, until_s].
std::vector<std::pair<double, double>> RankZeroOutages(const runtime::Communicator& comm,
                                                       absl::Time train_start, double until_s) {
  std::vector<std::pair<double, double>> intervals;
  const auto plan = comm.true_plan();
  const auto clock = comm.clock();
  if (plan == nullptr || clock == nullptr || until_s <= 0) return intervals;
  const std::vector<int>& sats = comm.rank_satellites();
  constexpr int kSamples = 2000;
  std::optional<double> open;
  for (int i = 0; i <= kSamples; ++i) {
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
  return intervals;
}

absl::Status Train(const Flags& flags) {
  // The --scenario flag names the scenario when no launcher did (an embedded coordinator serves
  // it to every rank); under crosslink-run the launcher's --scenario is the one played.
  if (!flags.scenario.empty()) {
    const char* launched = std::getenv("CROSSLINK_SCENARIO");
    if (launched == nullptr || *launched == '\0') {
      setenv("CROSSLINK_SCENARIO", flags.scenario.c_str(), 1);
    }
  }
  ASSIGN_OR_RETURN(std::unique_ptr<runtime::Communicator> created,
                   runtime::Communicator::CreateFromEnvironment(absl::Seconds(120)));
  std::shared_ptr<runtime::Communicator> comm = std::move(created);
  auto collectives = std::make_shared<crosslink::torch::TensorCollectives>(comm);
  const int rank = comm->rank();
  const int world = comm->world_size();
  const bool leader = rank == 0;
  if (leader && !flags.scenario.empty() && comm->scenario() == nullptr) {
    std::fprintf(stderr, "note: --scenario %s ignored: the job's coordinator serves no scenario\n",
                 flags.scenario.c_str());
  }

  ASSIGN_OR_RETURN(const IdxDataset train,
                   LoadIdxDataset(flags.data_dir, "train", flags.train_limit));
  ASSIGN_OR_RETURN(const IdxDataset test, LoadIdxDataset(flags.data_dir, "t10k"));

  ::torch::manual_seed(flags.seed);
  FashionCnn model;
  // Same start everywhere, whatever each rank's RNG did: rank 0's weights.
  for (auto& parameter : model->parameters()) {
    RETURN_IF_ERROR(collectives->Broadcast(parameter.data(), 0));
  }
  ::torch::optim::Adam optimizer(model->parameters(), ::torch::optim::AdamOptions(flags.lr));
  crosslink::torch::GradientBucketerOptions bucket_options;
  // A model this small fits in one default bucket, which would launch only at the end of
  // backward; 64 KiB buckets let the fully connected layers' gradients travel while the
  // convolutions' are still being computed.
  bucket_options.bucket_bytes = size_t{64} << 10;
  ASSIGN_OR_RETURN(
      std::unique_ptr<crosslink::torch::GradientBucketer> bucketer,
      crosslink::torch::GradientBucketer::Create(collectives, model->parameters(), bucket_options));

  // Every rank takes the same number of steps (a collective per bucket per step).
  const int64_t per_rank = train.size() / world;
  const int64_t steps = (per_rank + flags.batch - 1) / flags.batch;
  if (steps == 0) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank, ": ", train.size(),
                                                   " training examples for ", world, " ranks"));
  }
  if (leader) {
    std::fprintf(stderr,
                 "train_fashion_mnist: %d ranks, %lld training examples (%lld per rank, %lld "
                 "steps of %lld per epoch), %lld test examples, scenario %s\n",
                 world, static_cast<long long>(train.size()), static_cast<long long>(per_rank),
                 static_cast<long long>(steps), static_cast<long long>(flags.batch),
                 static_cast<long long>(test.size()),
                 comm->scenario() ? comm->scenario()->name.c_str() : "none (ideal links)");
  }

  std::vector<EpochRecord> records;
  const absl::Time train_start = absl::Now();
  for (int epoch = 1; epoch <= flags.epochs; ++epoch) {
    const absl::Time epoch_start = absl::Now();
    // The same permutation on every rank (seeded by epoch); rank r takes every world-th entry.
    ::torch::manual_seed(flags.seed * 1000003 + epoch);
    const auto shard = ::torch::randperm(train.size(), ::torch::kInt64)
                           .slice(0, 0, per_rank * world)
                           .view({per_rank, world})
                           .select(1, rank)
                           .contiguous();
    std::optional<ProgressBar> bar;
    if (leader) bar.emplace(epoch, steps);
    double loss_sum = 0;
    double correct = 0;
    double seen = 0;
    for (int64_t step = 0; step < steps; ++step) {
      const auto index =
          shard.slice(0, step * flags.batch, std::min((step + 1) * flags.batch, per_rank));
      const auto images = train.images.index_select(0, index);
      const auto labels = train.labels.index_select(0, index);
      optimizer.zero_grad();
      const auto logits = model->forward(images);
      const auto loss = ::torch::nn::functional::cross_entropy(logits, labels);
      loss.backward();
      RETURN_IF_ERROR(bucketer->FinishSync(absl::Now() + absl::Minutes(5)));
      optimizer.step();
      loss_sum += loss.item<double>() * static_cast<double>(index.size(0));
      correct += logits.argmax(1).eq(labels).sum().item<double>();
      seen += static_cast<double>(index.size(0));
      if (bar) bar->Update(step + 1, loss_sum / seen);
    }
    if (bar) bar->Finish();
    std::vector<double> totals = {loss_sum, correct, seen};
    RETURN_IF_ERROR(SumOverRanks(*collectives, totals));
    ASSIGN_OR_RETURN(const double test_accuracy, Evaluate(model, *collectives, test));
    EpochRecord record;
    record.epoch = epoch;
    record.epoch_wall_s = absl::ToDoubleSeconds(absl::Now() - epoch_start);
    record.wall_s = absl::ToDoubleSeconds(absl::Now() - train_start);
    record.loss = totals[0] / totals[2];
    record.train_accuracy = totals[1] / totals[2];
    record.test_accuracy = test_accuracy;
    record.outages = comm->outages_met();
    records.push_back(record);
    if (leader) {
      std::fprintf(stderr,
                   "epoch %d: loss %.4f train_acc %.4f test_acc %.4f epoch_wall_s %.1f "
                   "wall_s %.1f outages %lld\n",
                   epoch, record.loss, record.train_accuracy, record.test_accuracy,
                   record.epoch_wall_s, record.wall_s, static_cast<long long>(record.outages));
    }
  }

  const EpochRecord& last = records.back();
  if (leader) {
    if (!flags.csv.empty()) RETURN_IF_ERROR(WriteCsv(flags.csv, records));
    if (!flags.plot.empty()) {
      std::string note;
      std::vector<std::pair<double, double>> outages;
      if (comm->true_plan() == nullptr) {
        note = "ideal links: no scenario, no outages";
      } else {
        outages = RankZeroOutages(*comm, train_start, last.wall_s);
        note =
            absl::StrCat("shaded: rank 0's direct links down in scenario ", comm->scenario()->name,
                         " (true contact plan, sampled); outages met: ", last.outages);
      }
      // A missing plot does not undo the training: say so and go on to the final line.
      if (absl::Status s = WritePlot(flags.plot, records, outages, note); !s.ok()) {
        std::fprintf(stderr, "train_fashion_mnist: no plot: %s\n", s.ToString().c_str());
      }
    }
  }
  // Nobody leaves while a peer may still read from its connections (rank 0 may also host the
  // coordinator).
  RETURN_IF_ERROR(collectives->Barrier());
  if (leader) {
    std::printf("final test_accuracy=%.4f outages=%lld wall_s=%.1f\n", last.test_accuracy,
                static_cast<long long>(last.outages), last.wall_s);
    std::fflush(stdout);
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace crosslink::examples

int main(int argc, char** argv) {
  auto flags = crosslink::examples::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "train_fashion_mnist: %s\n%s",
                 std::string(flags.status().message()).c_str(), crosslink::examples::kUsage);
    return 2;
  }
  // One thread per rank: the ranks of a local job share the machine's cores.
  ::torch::set_num_threads(1);
  const absl::Status status = crosslink::examples::Train(*flags);
  if (!status.ok()) {
    std::fprintf(stderr, "train_fashion_mnist: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
