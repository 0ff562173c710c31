// train_fashion_mnist: data-parallel training of a small CNN (fashion_cnn.h) on Fashion-MNIST
// over a Crosslink job, the way a user's training program would use the runtime.
//
//   crosslink-run -n 4 [--scenario bench/scenarios/starlink-shell1.toml] -- \
//       train_fashion_mnist [--epochs E] [--batch B] [--lr LR] [--csv OUT] [--plot OUT.png]
//                           [--train-limit N] [--scenario FILE] [--data DIR] [--seed S]
//                           [--diloco H [--outer-lr L] [--outer-momentum M] [--diloco-shift S]
//                                       [--diloco-wire fp32|bf16]]
//
// Every rank joins through the launcher's environment (common/training_job.h), starts from rank
// 0's weights (broadcast), and trains on its shard of the training set (a permutation shared by
// all ranks, dealt out round-robin). By default it averages gradients every step with a
// GradientBucketer, whose allreduces overlap backward. With --diloco H it trains with DiLoCo
// instead (crosslink/torch/diloco.h): local AdamW steps and an outer Nesterov step on the
// averaged pseudo-gradients every H steps (moved by up to S steps into a predicted contact
// window with --diloco-shift S), and reports the bytes its syncs handed to the allreduce against
// what the per-step gradient allreduce hands over in as many steps.
//
// Each epoch ends with a test pass over every rank's shard of the test set (with DiLoCo between
// syncs: of each rank's local model on its shard). Rank 0 prints progress and per-epoch figures
// to stderr, writes the CSV and PNG, and prints as its last stdout line:
//   final test_accuracy=<fraction> outages=<count> wall_s=<seconds>
// Exit status: 0 on success, 1 on a runtime error (printed with its status), 2 on bad usage.
#include <torch/torch.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/progress_bar.h"
#include "common/training_job.h"
#include "common/training_report.h"
#include "crosslink/base/flags.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/torch/diloco.h"
#include "crosslink/torch/gradient_bucketer.h"
#include "fashion_cnn.h"
#include "idx_dataset.h"

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
  int64_t diloco_steps = 0;  // H; 0: per-step gradient allreduce
  double outer_lr = 0.7;     // DiLoCo paper's outer Nesterov settings
  double outer_momentum = 0.9;
  int64_t diloco_shift = 0;
  bool diloco_bf16 = false;  // pseudo-gradients travel as bf16 (half the bytes per sync)
  int64_t bucket_kb = 0;     // 0: chosen from the links (MakeSynchroniser)
};

constexpr char kUsage[] =
    "usage: crosslink-run -n N [--scenario FILE] -- train_fashion_mnist [--scenario FILE]\n"
    "         [--epochs E] [--batch B] [--lr LR] [--csv OUT] [--plot OUT.png] [--train-limit N]\n"
    "         [--data DIR] [--seed S] [--bucket-kb K]\n"
    "         [--diloco H [--outer-lr L] [--outer-momentum M] [--diloco-shift S]\n"
    "                     [--diloco-wire fp32|bf16]]\n";

// Parses argv into *flags; nullopt to carry on, else the exit code.
std::optional<int> ParseFlags(int argc, char** argv, Flags* flags) {
  std::string wire = "fp32";
  base::FlagSet set("train_fashion_mnist", kUsage);
  set.String("scenario", &flags->scenario, "scenario, when no launcher names one")
      .ValueName("FILE");
  set.Int("epochs", &flags->epochs, "epochs").Min(1);
  set.Int64("batch", &flags->batch, "examples per rank per step").Min(1);
  set.Double("lr", &flags->lr, "Adam learning rate").Above(0);
  set.String("csv", &flags->csv, "write the per-epoch report here").ValueName("OUT");
  set.String("plot", &flags->plot, "plot the report here").ValueName("OUT.png");
  set.Int64("train-limit", &flags->train_limit, "first N training examples (0: all)").Min(0);
  set.String("data", &flags->data_dir, "the Fashion-MNIST IDX files").ValueName("DIR");
  set.Uint64("seed", &flags->seed, "model and data seed");
  set.Int64("bucket-kb", &flags->bucket_kb, "gradient bucket size (default: from the links)")
      .Min(1)
      .DefaultText("");
  set.Int64("diloco", &flags->diloco_steps, "DiLoCo: inner steps H between syncs")
      .Min(1)
      .ValueName("H")
      .DefaultText("");
  set.Double("outer-lr", &flags->outer_lr, "DiLoCo outer Nesterov learning rate").Above(0);
  set.Double("outer-momentum", &flags->outer_momentum, "DiLoCo outer momentum").Min(0).Below(1);
  set.Int64("diloco-shift", &flags->diloco_shift,
            "DiLoCo: steps a sync may move into a contact window")
      .Min(0);
  set.Choice("diloco-wire", &wire, {"fp32", "bf16"}, "how pseudo-gradients travel");
  if (std::optional<int> exit_code = set.ParseMain(argc, argv)) return exit_code;
  flags->diloco_bf16 = wire == "bf16";
  return std::nullopt;
}

// Fraction of this rank's share of `data` (every world_size-th example) the model classifies
// right, over every rank's share: the test accuracy of the whole set.
absl::StatusOr<double> Evaluate(FashionCnn& model, TrainingJob& job, const IdxDataset& data) {
  ::torch::NoGradGuard no_grad;
  model->eval();
  const auto shard = ::torch::arange(job.rank(), data.size(), job.world_size());
  double correct = 0;
  constexpr int64_t kEvalBatch = 500;
  for (int64_t begin = 0; begin < shard.size(0); begin += kEvalBatch) {
    const auto index = shard.slice(0, begin, std::min(begin + kEvalBatch, shard.size(0)));
    const auto prediction = model->forward(data.images.index_select(0, index)).argmax(1);
    correct += prediction.eq(data.labels.index_select(0, index)).sum().item<double>();
  }
  model->train();
  std::vector<double> totals = {correct, static_cast<double>(shard.size(0))};
  RETURN_IF_ERROR(SumOverRanks(job, totals));
  return totals[1] > 0 ? totals[0] / totals[1] : 0.0;
}

// The CSV's columns (the documented "epoch,wall_s,loss,train_acc,test_acc,outages").
ReportTable EmptyReport() {
  ReportTable table;
  table.columns = {{"epoch", 0},     {"wall_s", 3},   {"loss", 6},
                   {"train_acc", 6}, {"test_acc", 6}, {"outages", 0}};
  return table;
}

// How the gradients (or the models) of the ranks meet: exactly one of the two is set.
struct Synchroniser {
  std::unique_ptr<crosslink::torch::GradientBucketer> bucketer;
  std::unique_ptr<crosslink::torch::DiLoCo> diloco;
};

absl::StatusOr<Synchroniser> MakeSynchroniser(const Flags& flags, TrainingJob& job,
                                              FashionCnn& model) {
  Synchroniser sync;
  if (flags.diloco_steps > 0) {
    crosslink::torch::DiLoCoOptions options;
    options.inner_steps = flags.diloco_steps;
    options.outer_lr = flags.outer_lr;
    options.outer_momentum = flags.outer_momentum;
    options.max_shift_steps = flags.diloco_shift;
    options.wire_dtype = flags.diloco_bf16 ? crosslink::torch::DiLoCoWireDtype::kBFloat16
                                           : crosslink::torch::DiLoCoWireDtype::kFloat32;
    // Over a scenario the sync's ring order follows the predicted contact plan.
    options.contact_aware = job.comm->scenario() != nullptr;
    ASSIGN_OR_RETURN(sync.diloco, crosslink::torch::DiLoCo::Create(job.collectives,
                                                                   model->parameters(), options));
    return sync;
  }
  crosslink::torch::GradientBucketerOptions options;
  // A model this small fits in one default bucket, which would launch only at the end of
  // backward. On ideal links an allreduce costs little more than its bytes, so 64 KiB buckets
  // let the fully connected layers' gradients travel while the convolutions' are still being
  // computed. Over crosslinks every allreduce pays the ring's or tree's latency (tens of ms
  // across eight satellites) whatever its size, and collectives run one at a time: there the
  // buckets are cut into two, the fully connected layers' gradients (~800 KB, ready early in
  // backward, travelling while the convolutions' backward runs) and the convolutions'.
  const bool over_crosslinks = job.comm->scenario() != nullptr;
  size_t fully_connected_bytes = 0;
  for (const auto& item : model->named_parameters()) {
    if (absl::StartsWith(item.key(), "fc")) {
      fully_connected_bytes += item.value().numel() * item.value().element_size();
    }
  }
  options.bucket_bytes = flags.bucket_kb > 0 ? size_t(flags.bucket_kb) << 10
                         : over_crosslinks   ? fully_connected_bytes
                                             : size_t{64} << 10;
  // Over a scenario the ring order and shape follow the predicted contact plan: a ring of
  // neighbouring satellites, and no link that is about to drop.
  options.collective.contact_aware = over_crosslinks;
  ASSIGN_OR_RETURN(sync.bucketer, crosslink::torch::GradientBucketer::Create(
                                      job.collectives, model->parameters(), options));
  return sync;
}

// DiLoCo's communication against per-step data parallelism's, on rank 0's stderr. A last sync
// that did not fall on the final step leaves the ranks' models apart: they are averaged once
// more (and those bytes counted) so that the final accuracy is that of one model.
absl::Status FinishDiLoCo(const Flags& flags, TrainingJob& job, FashionCnn& model,
                          const crosslink::torch::DiLoCo& diloco, int64_t total_steps) {
  int64_t payload_bytes = diloco.stats().allreduce_payload_bytes;
  int64_t syncs = diloco.stats().syncs;
  const std::vector<int64_t>& sync_steps = diloco.stats().sync_steps;
  if (sync_steps.empty() || sync_steps.back() != total_steps) {
    ::torch::NoGradGuard no_grad;
    for (auto& parameter : model->parameters()) {
      RETURN_IF_ERROR(job.collectives->Allreduce(parameter.data(), collectives::ReduceOp::kAvg));
    }
    payload_bytes += diloco.parameter_bytes();
    ++syncs;
  }
  const int64_t per_step_bytes = total_steps * diloco.parameter_bytes();
  if (job.leader()) {
    std::fprintf(stderr,
                 "diloco: H=%lld syncs=%lld (moved %lld) inner_steps=%lld parameter_bytes=%lld "
                 "outer_sync_bytes=%lld per_step_allreduce_bytes=%lld bytes_ratio=%.1fx "
                 "sync_wall_s=%.2f\n",
                 static_cast<long long>(flags.diloco_steps), static_cast<long long>(syncs),
                 static_cast<long long>(diloco.stats().syncs_moved),
                 static_cast<long long>(total_steps),
                 static_cast<long long>(diloco.parameter_bytes()),
                 static_cast<long long>(payload_bytes), static_cast<long long>(per_step_bytes),
                 payload_bytes > 0 ? static_cast<double>(per_step_bytes) / payload_bytes : 0.0,
                 absl::ToDoubleSeconds(diloco.stats().sync_wall_time));
  }
  return absl::OkStatus();
}

absl::Status Train(const Flags& flags) {
  ASSIGN_OR_RETURN(TrainingJob job,
                   JoinJob(flags.scenario, absl::Seconds(120), "train_fashion_mnist"));
  const int rank = job.rank();
  const int world = job.world_size();
  const bool leader = job.leader();

  ASSIGN_OR_RETURN(const IdxDataset train,
                   LoadIdxDataset(flags.data_dir, "train", flags.train_limit));
  ASSIGN_OR_RETURN(const IdxDataset test, LoadIdxDataset(flags.data_dir, "t10k"));

  ::torch::manual_seed(flags.seed);
  FashionCnn model;
  RETURN_IF_ERROR(BroadcastParameters(job, model->parameters()));
  // DiLoCo's inner optimiser is AdamW, as in the paper; per-step data parallelism keeps Adam.
  std::unique_ptr<::torch::optim::Optimizer> optimizer;
  if (flags.diloco_steps > 0) {
    optimizer = std::make_unique<::torch::optim::AdamW>(model->parameters(),
                                                        ::torch::optim::AdamWOptions(flags.lr));
  } else {
    optimizer = std::make_unique<::torch::optim::Adam>(model->parameters(),
                                                       ::torch::optim::AdamOptions(flags.lr));
  }
  ASSIGN_OR_RETURN(Synchroniser sync, MakeSynchroniser(flags, job, model));

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
                 "steps of %lld per epoch), %lld test examples, scenario %s, %s\n",
                 world, static_cast<long long>(train.size()), static_cast<long long>(per_rank),
                 static_cast<long long>(steps), static_cast<long long>(flags.batch),
                 static_cast<long long>(test.size()), job.scenario_name().c_str(),
                 flags.diloco_steps > 0
                     ? absl::StrCat("DiLoCo every ", flags.diloco_steps, " steps").c_str()
                     : "gradient allreduce every step");
  }

  ReportTable report = EmptyReport();
  double test_accuracy = 0;
  double wall_s = 0;
  int64_t outages = 0;  // met by the links of every rank, summed at each epoch's end
  int64_t global_step = 0;
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
      optimizer->zero_grad();
      const auto logits = model->forward(images);
      const auto loss = ::torch::nn::functional::cross_entropy(logits, labels);
      loss.backward();
      if (sync.bucketer) RETURN_IF_ERROR(sync.bucketer->FinishSync(absl::Now() + absl::Minutes(5)));
      optimizer->step();
      ++global_step;
      if (sync.diloco) RETURN_IF_ERROR(sync.diloco->AfterInnerStep(global_step).status());
      loss_sum += loss.item<double>() * static_cast<double>(index.size(0));
      correct += logits.argmax(1).eq(labels).sum().item<double>();
      seen += static_cast<double>(index.size(0));
      if (bar) bar->Update(step + 1, loss_sum / seen);
    }
    if (bar) bar->Finish();
    if (sync.diloco && epoch == flags.epochs) {
      RETURN_IF_ERROR(FinishDiLoCo(flags, job, model, *sync.diloco, global_step));
    }
    // Each rank's outages ride along: the job's count is the sum of what every rank's links met.
    std::vector<double> totals = {loss_sum, correct, seen,
                                  static_cast<double>(job.comm->outages_met())};
    RETURN_IF_ERROR(SumOverRanks(job, totals));
    outages = static_cast<int64_t>(totals[3]);
    ASSIGN_OR_RETURN(test_accuracy, Evaluate(model, job, test));
    const double epoch_wall_s = absl::ToDoubleSeconds(absl::Now() - epoch_start);
    wall_s = absl::ToDoubleSeconds(absl::Now() - train_start);
    const double loss = totals[0] / totals[2];
    const double train_accuracy = totals[1] / totals[2];
    report.rows.push_back({static_cast<double>(epoch), wall_s, loss, train_accuracy, test_accuracy,
                           static_cast<double>(outages)});
    if (leader) {
      std::fprintf(stderr,
                   "epoch %d: loss %.4f train_acc %.4f test_acc %.4f epoch_wall_s %.1f "
                   "wall_s %.1f outages %lld\n",
                   epoch, loss, train_accuracy, test_accuracy, epoch_wall_s, wall_s,
                   static_cast<long long>(outages));
    }
  }

  if (leader) {
    if (!flags.csv.empty()) RETURN_IF_ERROR(WriteCsv(flags.csv, report));
    if (!flags.plot.empty()) {
      PlotOptions plot;
      plot.title = "Fashion-MNIST on Crosslink: loss and accuracy against wall time";
      plot.y_label = "training loss";
      plot.y2_label = "accuracy";
      plot.y2_unit_range = true;
      plot.series = {{"loss", "loss"},
                     {"train_acc", "train accuracy", true},
                     {"test_acc", "test accuracy", true}};
      std::tie(plot.outages_wall_s, plot.outage_note) = RankZeroOutages(job, train_start, wall_s);
      // A missing plot does not undo the training: say so and go on to the final line.
      if (absl::Status s = WritePlot(flags.plot, report, plot); !s.ok()) {
        std::fprintf(stderr, "train_fashion_mnist: no plot: %s\n", s.ToString().c_str());
      }
    }
  }
  return FinishJob(job, "test_accuracy", test_accuracy, outages, wall_s);
}

}  // namespace
}  // namespace crosslink::examples

int main(int argc, char** argv) {
  return crosslink::examples::ExampleMain(argc, argv, "train_fashion_mnist",
                                          crosslink::examples::ParseFlags,
                                          crosslink::examples::Train);
}
