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
// With --elastic the job survives ranks that die and come back (crosslink-run --max-restarts K):
// every step goes through crosslink::torch::ElasticTrainer (quorum, state sync to a rejoined
// rank: parameters, optimiser state, DiLoCo's outer state, the loop's position and figures;
// commit or drop on every survivor alike), and the live ranks share the data among themselves.
//
// Each epoch ends with a test pass over every rank's shard of the test set (with DiLoCo between
// syncs: of each rank's local model on its shard). Rank 0 (with --elastic: the lowest live rank)
// prints progress and per-epoch figures to stderr, writes the CSV and PNG, and prints as its last
// stdout line:
//   final test_accuracy=<fraction> outages=<count> wall_s=<seconds> membership_changes=<count>
// (membership_changes: deaths and admissions the job went through, 0 without --elastic).
// Exit status: 0 on success, 1 on a runtime error (printed with its status), 2 on bad usage.
#include <ATen/CPUGeneratorImpl.h>
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
#include "common/training_loop.h"
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
  bool elastic = false;      // survive ranks that die and rejoin (ElasticTrainer)
};

constexpr char kUsage[] =
    "usage: crosslink-run -n N [--scenario FILE] -- train_fashion_mnist [--scenario FILE]\n"
    "         [--epochs E] [--batch B] [--lr LR] [--csv OUT] [--plot OUT.png] [--train-limit N]\n"
    "         [--data DIR] [--seed S] [--bucket-kb K]\n"
    "         [--diloco H [--outer-lr L] [--outer-momentum M] [--diloco-shift S]\n"
    "                     [--diloco-wire fp32|bf16]] [--elastic]\n";

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
  set.Switch("elastic", &flags->elastic,
             "survive ranks that die and rejoin (crosslink-run --max-restarts)");
  if (std::optional<int> exit_code = set.ParseMain(argc, argv)) return exit_code;
  flags->diloco_bf16 = wire == "bf16";
  return std::nullopt;
}

// Fraction of this rank's share of `data` (every n-th example, n the ranks sharing it) the model
// classifies right, over every rank's share: the test accuracy of the whole set.
absl::StatusOr<double> Evaluate(FashionCnn& model, TrainingJob& job, const IdxDataset& data) {
  ::torch::NoGradGuard no_grad;
  model->eval();
  const auto [index, count] = job.shard();
  const auto shard = ::torch::arange(index, data.size(), count);
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

// An elastic job's collective deadline: well above a step's allreduce over the slowest scenario
// (seconds), short enough that a rare wait for a rank that skipped the collective ends soon.
constexpr absl::Duration kElasticCollectiveTimeout = absl::Seconds(30);

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
    options.elastic = job.elastic();
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
  // Elastic: a collective that a survivor waits in for a rank that skipped it (the membership
  // moved just before; tensor_collectives.h) ends at this deadline and is aborted by the death.
  if (job.elastic()) options.collective.timeout = kElasticCollectiveTimeout;
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
  ASSIGN_OR_RETURN(TrainingJob job, JoinJob(flags.scenario, absl::Seconds(120),
                                            "train_fashion_mnist", flags.elastic));
  const int world = job.world_size();

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

  // Every rank takes the same number of steps (a collective per bucket per step). The training
  // set is dealt out among all `world` ranks; while an elastic job has fewer live ranks, the
  // shards of the dead ones wait for their return.
  const int64_t per_rank = train.size() / world;
  const int64_t steps = (per_rank + flags.batch - 1) / flags.batch;
  if (steps == 0) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", job.rank(), ": ", train.size(),
                                                   " training examples for ", world, " ranks"));
  }
  if (job.leader()) {
    std::fprintf(stderr,
                 "train_fashion_mnist: %d ranks, %lld training examples (%lld per rank, %lld "
                 "steps of %lld per epoch), %lld test examples, scenario %s, %s%s\n",
                 world, static_cast<long long>(train.size()), static_cast<long long>(per_rank),
                 static_cast<long long>(steps), static_cast<long long>(flags.batch),
                 static_cast<long long>(test.size()), job.scenario_name().c_str(),
                 flags.diloco_steps > 0
                     ? absl::StrCat("DiLoCo every ", flags.diloco_steps, " steps").c_str()
                     : "gradient allreduce every step",
                 job.elastic() ? ", elastic" : "");
  }

  ReportTable report = EmptyReport();
  // The figures the leader prints last: an elastic job's state holds them, so a rank that
  // rejoins (and may become the leader) reports the job's figures, not its own process's; the
  // start of training is the job's (TrainingStart), so wall_s is too.
  double test_accuracy = 0;
  double wall_s = 0;
  int64_t outages = 0;  // met by the links of every rank, summed at each epoch's end
  ASSIGN_OR_RETURN(const absl::Time train_start, TrainingStart(job));
  const auto since_start = [&] { return absl::ToDoubleSeconds(absl::Now() - train_start); };

  // This rank's part of the epoch (a permutation shared by every rank, seeded by the epoch;
  // rank r takes every world-th entry), made when the epoch's first step here needs it.
  int shard_epoch = 0;
  at::Tensor shard;
  // Per-rank figures of the epoch so far, summed over the ranks at its end.
  double loss_sum = 0, correct = 0, seen = 0;
  std::optional<ProgressBar> bar;
  double epoch_start_s = 0;
  // The epoch's evaluated figures, kept by record_evaluation.
  double eval_loss = 0, eval_train_accuracy = 0, eval_test_accuracy = 0;
  int64_t eval_outages = 0;

  TrainingLoop loop;
  loop.epochs = flags.epochs;
  loop.steps_per_epoch = steps;
  loop.train_step = [&](int epoch, int64_t step) -> absl::Status {
    if (shard_epoch != epoch) {
      at::Generator order = at::make_generator<at::CPUGeneratorImpl>(flags.seed * 1000003 + epoch);
      shard = ::torch::randperm(train.size(), order, ::torch::kInt64)
                  .slice(0, 0, per_rank * world)
                  .view({per_rank, world})
                  .select(1, job.rank())
                  .contiguous();
      shard_epoch = epoch;
      loss_sum = correct = seen = 0;
      epoch_start_s = since_start();
      bar.reset();
      if (job.leader()) bar.emplace(epoch, steps);
    }
    const auto index =
        shard.slice(0, step * flags.batch, std::min((step + 1) * flags.batch, per_rank));
    const auto images = train.images.index_select(0, index);
    const auto labels = train.labels.index_select(0, index);
    optimizer->zero_grad();
    const auto logits = model->forward(images);
    const auto loss = ::torch::nn::functional::cross_entropy(logits, labels);
    loss.backward();
    loss_sum += loss.item<double>() * static_cast<double>(index.size(0));
    correct += logits.argmax(1).eq(labels).sum().item<double>();
    seen += static_cast<double>(index.size(0));
    if (bar) bar->Update(step + 1, loss_sum / seen);
    if (sync.bucketer) return sync.bucketer->FinishSync(absl::Now() + absl::Minutes(5));
    // DiLoCo: the inner step is this rank's own; an elastic job's outer update waits for the
    // commit (DiLoCo::CommitSync).
    optimizer->step();
    return sync.diloco->AfterInnerStep(loop.next_step + 1).status();
  };
  loop.commit_step = [&](int, int64_t) {
    if (sync.bucketer) optimizer->step();
    if (sync.diloco) sync.diloco->CommitSync();
  };
  loop.drop_step = [&](int, int64_t) {
    if (sync.diloco) sync.diloco->DropSync();
  };
  loop.evaluate = [&](int epoch) -> absl::Status {
    if (bar) bar->Finish();
    bar.reset();
    if (sync.diloco && epoch == flags.epochs) {
      RETURN_IF_ERROR(FinishDiLoCo(flags, job, model, *sync.diloco, loop.next_step));
    }
    // Each rank's outages ride along: the job's count is the sum of what every rank's links met.
    std::vector<double> totals = {loss_sum, correct, seen,
                                  static_cast<double>(job.comm->outages_met())};
    RETURN_IF_ERROR(SumOverRanks(job, totals));
    eval_outages = static_cast<int64_t>(totals[3]);
    eval_loss = totals[2] > 0 ? totals[0] / totals[2] : 0;
    eval_train_accuracy = totals[2] > 0 ? totals[1] / totals[2] : 0;
    ASSIGN_OR_RETURN(eval_test_accuracy, Evaluate(model, job, test));
    return absl::OkStatus();
  };
  loop.record_evaluation = [&](int epoch) {
    test_accuracy = eval_test_accuracy;
    outages = eval_outages;
    wall_s = since_start();
    report.rows.push_back({static_cast<double>(epoch), wall_s, eval_loss, eval_train_accuracy,
                           test_accuracy, static_cast<double>(outages)});
    if (job.leader()) {
      std::fprintf(stderr,
                   "epoch %d: loss %.4f train_acc %.4f test_acc %.4f epoch_wall_s %.1f "
                   "wall_s %.1f outages %lld%s\n",
                   epoch, eval_loss, eval_train_accuracy, test_accuracy, wall_s - epoch_start_s,
                   wall_s, static_cast<long long>(outages),
                   job.elastic() ? absl::StrCat(" membership_changes ", job.membership_changes(),
                                                " live ", job.trainer->live_ranks().size())
                                       .c_str()
                                 : "");
    }
  };

  if (job.elastic()) {
    crosslink::torch::ElasticState& state = *job.state;
    if (sync.diloco) {
      // The ranks' local models and inner optimisers differ by design: DiLoCo's outer state is
      // what they share.
      RETURN_IF_ERROR(sync.diloco->AddToState(state, "diloco."));
    } else {
      RETURN_IF_ERROR(state.AddNamedTensors("model.", model->named_parameters().pairs()));
      RETURN_IF_ERROR(state.AddNamedTensors("model.", model->named_buffers().pairs()));
      RETURN_IF_ERROR(state.AddOptimizer("adam", *optimizer));
    }
    loop.RegisterPosition(state);
    state.AddValue("test_accuracy", &test_accuracy);
    state.AddValue("outages", &outages);
    job.trainer->set_on_state_received([&]() -> absl::Status {
      if (sync.diloco) sync.diloco->OnStateReceived();
      std::fprintf(stderr,
                   "train_fashion_mnist: rank %d rejoined at step %lld (epoch %lld) and received "
                   "the training state (%zu bytes)\n",
                   job.rank(), static_cast<long long>(loop.next_step),
                   static_cast<long long>(loop.next_step / steps + 1), state.bytes());
      return absl::OkStatus();
    });
  }
  RETURN_IF_ERROR(loop.Run(job.trainer.get()));

  if (job.leader()) {
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
