// train_char_transformer: data-parallel training of a small character-level transformer
// (char_gpt.h, nanoGPT's shape) on the characters of a text file, over a Crosslink job.
//
//   crosslink-run -n 2 [--scenario bench/scenarios/starlink-shell1.toml] -- \
//       train_char_transformer [--text FILE] [--epochs E] [--steps S] [--batch B] [--block T]
//                              [--layers L] [--heads H] [--embd C] [--lr LR] [--csv OUT]
//                              [--plot OUT.png] [--scenario FILE] [--seed S] [--sample N]
//                              [--digest 1] [--elastic]
//
// The default text is the GNU GPL version 3 (/usr/share/common-licenses/GPL-3, 35 KB, from
// Debian's essential base-files package, so every Debian system has it). Every rank starts from
// rank 0's weights, draws its own random windows of the training text (its seed differs by
// rank) and averages gradients every step with a GradientBucketer. An "epoch" here is S steps
// followed by a validation pass (the same fixed windows of the held-out 10 %, shared out among
// the ranks); epoch 0 is the validation loss of the untrained model. Rank 0 prints progress and
// per-epoch figures to stderr, a short text sampled from the trained model, writes the CSV
// (epoch,step,wall_s,train_loss,val_loss,outages) and the PNG (both losses against wall time,
// outages shaded), and prints as its last stdout line:
//   final val_loss=<nats per character> outages=<count> wall_s=<seconds> membership_changes=<n>
// (membership_changes=<count> follows: deaths and admissions the job went through, 0 without
// --elastic.) With --elastic the job survives ranks that die and come back (crosslink-run
// --max-restarts K): every step goes through crosslink::torch::ElasticTrainer, which hands a
// rejoined rank the parameters, AdamW's state and the loop's position, and the lowest live rank
// reports. With --digest 1 every rank first prints "params rank=<r> digest=<16 hex digits>" (FNV-1a
// of its parameters' bytes): data-parallel ranks must print the same digest. Exit status: 0 on
// success, 1 on a runtime error (printed with its status), 2 on bad usage.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "char_corpus.h"
#include "char_gpt.h"
#include "common/progress_bar.h"
#include "common/training_job.h"
#include "common/training_loop.h"
#include "common/training_report.h"
#include "crosslink/base/flags.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/torch/gradient_bucketer.h"

namespace crosslink::examples {
namespace {

struct Flags {
  std::string text = "/usr/share/common-licenses/GPL-3";
  std::string scenario;
  int epochs = 8;
  int64_t steps = 75;                   // per epoch
  int64_t batch = 8;                    // windows per rank per step
  CharGptConfig model = {.block = 32};  // vocab comes from the text
  double lr = 3e-3;
  std::string csv;
  std::string plot;
  uint64_t seed = 1;
  int64_t eval_windows = 64;
  int64_t sample_chars = 200;
  bool digest = false;
  bool elastic = false;
};

constexpr char kUsage[] =
    "usage: crosslink-run -n N [--scenario FILE] -- train_char_transformer [--text FILE]\n"
    "         [--epochs E] [--steps S] [--batch B] [--block T] [--layers L] [--heads H]\n"
    "         [--embd C] [--lr LR] [--csv OUT] [--plot OUT.png] [--scenario FILE] [--seed S]\n"
    "         [--eval-windows W] [--sample N] [--digest 0|1] [--elastic]\n";

// Parses argv into *flags; nullopt to carry on, else the exit code.
std::optional<int> ParseFlags(int argc, char** argv, Flags* flags) {
  base::FlagSet set("train_char_transformer", kUsage);
  set.String("text", &flags->text, "the text to learn").ValueName("FILE");
  set.String("scenario", &flags->scenario, "scenario, when no launcher names one")
      .ValueName("FILE");
  set.Int("epochs", &flags->epochs, "epochs").Min(1);
  set.Int64("steps", &flags->steps, "steps per epoch").Min(1);
  set.Int64("batch", &flags->batch, "windows per rank per step").Min(1);
  set.Int64("block", &flags->model.block, "context length in characters").Min(1);
  set.Int64("layers", &flags->model.layers, "transformer layers").Min(1);
  set.Int64("heads", &flags->model.heads, "attention heads").Min(1);
  set.Int64("embd", &flags->model.embd, "embedding width (a multiple of --heads)").Min(1);
  set.Double("lr", &flags->lr, "AdamW learning rate").Above(0);
  set.String("csv", &flags->csv, "write the per-epoch report here").ValueName("OUT");
  set.String("plot", &flags->plot, "plot the report here").ValueName("OUT.png");
  set.Uint64("seed", &flags->seed, "model and data seed");
  set.Int64("eval-windows", &flags->eval_windows, "validation windows per evaluation").Min(1);
  set.Int64("sample", &flags->sample_chars, "characters to sample at the end").Min(0);
  set.Custom(
         "digest", "0|1",
         [flags](absl::string_view value) {
           return absl::SimpleAtob(value, &flags->digest)
                      ? absl::OkStatus()
                      : absl::InvalidArgumentError(absl::StrCat("bad value \"", value, "\""));
         },
         "print every rank's parameter digest at the end")
      .DefaultText("0");
  set.Switch("elastic", &flags->elastic,
             "survive ranks that die and rejoin (crosslink-run --max-restarts)");
  if (std::optional<int> exit_code = set.ParseMain(argc, argv)) return exit_code;
  if (flags->model.embd % flags->model.heads != 0) {
    std::cerr << set.UsageError(absl::StrCat("--embd ", flags->model.embd,
                                             " is not a multiple of --heads ", flags->model.heads));
    return 2;
  }
  return std::nullopt;
}

// Mean next-character cross-entropy (nats) over `windows` windows of the validation text spread
// evenly over it, the same windows on every call; each rank evaluates every n-th one (n the
// ranks sharing the data: an elastic job's live ranks).
absl::StatusOr<double> ValidationLoss(CharGpt& model, TrainingJob& job, const CharCorpus& corpus,
                                      int64_t windows) {
  ::torch::NoGradGuard no_grad;
  model->eval();
  const int64_t block = model->config().block;
  const int64_t last_start = corpus.val.size(0) - block - 1;
  const auto [index, count] = job.shard();
  const auto starts = ::torch::linspace(0, static_cast<double>(last_start), windows)
                          .to(::torch::kLong)
                          .slice(0, index, windows, count);
  double loss_sum = 0;
  if (starts.size(0) > 0) {
    const auto [inputs, targets] = Windows(corpus.val, starts, block);
    const auto logits = model->forward(inputs);
    // Per-window mean, so every window weighs the same whichever rank evaluated it.
    const auto per_position =
        ::torch::nn::functional::cross_entropy(
            logits.flatten(0, 1), targets.flatten(),
            ::torch::nn::functional::CrossEntropyFuncOptions().reduction(::torch::kNone))
            .view({starts.size(0), block});
    loss_sum = per_position.mean(1).sum().item<double>();
  }
  model->train();
  std::vector<double> totals = {loss_sum, static_cast<double>(starts.size(0))};
  RETURN_IF_ERROR(SumOverRanks(job, totals));
  return totals[0] / totals[1];
}

// `chars` characters sampled from the model after a newline (temperature 1), for a look at what
// it learned.
std::string Sample(CharGpt& model, const CharCorpus& corpus, int64_t chars) {
  ::torch::NoGradGuard no_grad;
  model->eval();
  const int64_t block = model->config().block;
  const size_t newline = corpus.vocabulary.find('\n');
  std::vector<int64_t> context = {newline == std::string::npos ? 0 : static_cast<int64_t>(newline)};
  std::string out;
  for (int64_t i = 0; i < chars; ++i) {
    const int64_t begin = std::max<int64_t>(0, static_cast<int64_t>(context.size()) - block);
    const auto ids = ::torch::tensor(std::vector<int64_t>(context.begin() + begin, context.end()),
                                     ::torch::kLong)
                         .unsqueeze(0);
    const auto logits = model->forward(ids).select(1, ids.size(1) - 1).squeeze(0);
    const int64_t next = ::torch::multinomial(logits.softmax(-1), 1).item<int64_t>();
    context.push_back(next);
    out += corpus.vocabulary[static_cast<size_t>(next)];
  }
  model->train();
  return out;
}

absl::Status Train(Flags flags) {
  ASSIGN_OR_RETURN(TrainingJob job, JoinJob(flags.scenario, absl::Seconds(120),
                                            "train_char_transformer", flags.elastic));
  ASSIGN_OR_RETURN(const CharCorpus corpus, LoadCharCorpus(flags.text, flags.model.block));
  flags.model.vocab = corpus.vocab_size();

  ::torch::manual_seed(flags.seed);
  CharGpt model(flags.model);
  RETURN_IF_ERROR(BroadcastParameters(job, model->parameters()));
  ::torch::optim::AdamW optimizer(model->parameters(),
                                  ::torch::optim::AdamWOptions(flags.lr).weight_decay(0.01));
  crosslink::torch::GradientBucketerOptions bucket_options;
  // The default 25 MiB would hold this whole model in one bucket launched at the end of
  // backward; 64 KiB buckets let the last blocks' gradients travel while the first blocks' are
  // still being computed.
  bucket_options.bucket_bytes = size_t{64} << 10;
  // Elastic: a collective that a survivor waits in for a rank that skipped it (the membership
  // moved just before; tensor_collectives.h) ends at this deadline and is aborted by the death.
  if (job.elastic()) bucket_options.collective.timeout = absl::Seconds(30);
  ASSIGN_OR_RETURN(std::unique_ptr<crosslink::torch::GradientBucketer> bucketer,
                   crosslink::torch::GradientBucketer::Create(job.collectives, model->parameters(),
                                                              bucket_options));
  int64_t parameter_count = 0;
  for (const auto& parameter : model->parameters()) parameter_count += parameter.numel();
  if (job.leader()) {
    std::fprintf(
        stderr,
        "train_char_transformer: %d ranks, text %s (%lld training and %lld validation "
        "characters, vocabulary %lld), %lld parameters (%lld layers, %lld heads, "
        "embedding %lld, context %lld), %d epochs of %lld steps of %lld windows per "
        "rank, scenario %s%s\n",
        job.world_size(), flags.text.c_str(), static_cast<long long>(corpus.train.size(0)),
        static_cast<long long>(corpus.val.size(0)), static_cast<long long>(corpus.vocab_size()),
        static_cast<long long>(parameter_count), static_cast<long long>(flags.model.layers),
        static_cast<long long>(flags.model.heads), static_cast<long long>(flags.model.embd),
        static_cast<long long>(flags.model.block), flags.epochs,
        static_cast<long long>(flags.steps), static_cast<long long>(flags.batch),
        job.scenario_name().c_str(), job.elastic() ? ", elastic" : "");
  }

  ReportTable report;
  report.columns = {{"epoch", 0},      {"step", 0},     {"wall_s", 3},
                    {"train_loss", 6}, {"val_loss", 6}, {"outages", 0}};
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // The figures the leader prints last: an elastic job's state holds them, so a rank that
  // rejoins reports the job's figures; the start of training is the job's (TrainingStart).
  double val_loss = 0;
  double wall_s = 0;
  int64_t outages = 0;  // met by the links of every rank, summed at each epoch's end
  ASSIGN_OR_RETURN(const absl::Time train_start, TrainingStart(job));
  const auto since_start = [&] { return absl::ToDoubleSeconds(absl::Now() - train_start); };

  // Each rank its own windows: the seed differs by rank (the weights came from rank 0).
  const int64_t max_start = corpus.train.size(0) - flags.model.block - 1;
  at::Generator windows = at::make_generator<at::CPUGeneratorImpl>(
      flags.seed * 1000003 + 7919 * static_cast<uint64_t>(job.rank() + 1));
  double loss_sum = 0;
  int64_t loss_steps = 0;
  int loss_epoch = 0;
  std::optional<ProgressBar> bar;
  double epoch_start_s = 0;
  double eval_train_loss = nan, eval_val_loss = 0;
  int64_t eval_outages = 0;

  TrainingLoop loop;
  loop.epochs = flags.epochs;
  loop.steps_per_epoch = flags.steps;
  loop.first_evaluation = 0;  // epoch 0: the untrained model
  loop.train_step = [&](int epoch, int64_t step) -> absl::Status {
    if (loss_epoch != epoch) {
      loss_epoch = epoch;
      loss_sum = 0;
      loss_steps = 0;
      epoch_start_s = since_start();
      bar.reset();
      if (job.leader()) bar.emplace(epoch, flags.steps);
    }
    const auto starts = ::torch::randint(max_start + 1, {flags.batch}, windows, ::torch::kLong);
    const auto [inputs, targets] = Windows(corpus.train, starts, flags.model.block);
    optimizer.zero_grad();
    const auto logits = model->forward(inputs);
    const auto loss =
        ::torch::nn::functional::cross_entropy(logits.flatten(0, 1), targets.flatten());
    loss.backward();
    loss_sum += loss.item<double>();
    ++loss_steps;
    if (bar) bar->Update(step + 1, loss_sum / static_cast<double>(loss_steps));
    return bucketer->FinishSync(absl::Now() + absl::Minutes(5));
  };
  loop.commit_step = [&](int, int64_t) {
    // On the averaged gradients, so every rank clips alike (nanoGPT clips at 1).
    ::torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
    optimizer.step();
  };
  loop.evaluate = [&](int epoch) -> absl::Status {
    if (bar) bar->Finish();
    bar.reset();
    if (epoch > 0) {
      // Each rank's outages ride along: the job's count is the sum of what every rank's links
      // met.
      std::vector<double> totals = {loss_sum, static_cast<double>(loss_steps),
                                    static_cast<double>(job.comm->outages_met())};
      RETURN_IF_ERROR(SumOverRanks(job, totals));
      eval_train_loss = totals[1] > 0 ? totals[0] / totals[1] : nan;
      eval_outages = static_cast<int64_t>(totals[2]);
    }
    ASSIGN_OR_RETURN(eval_val_loss, ValidationLoss(model, job, corpus, flags.eval_windows));
    return absl::OkStatus();
  };
  loop.record_evaluation = [&](int epoch) {
    val_loss = eval_val_loss;
    wall_s = since_start();
    if (epoch > 0) outages = eval_outages;
    report.rows.push_back({static_cast<double>(epoch), static_cast<double>(loop.next_step), wall_s,
                           epoch > 0 ? eval_train_loss : nan, val_loss,
                           static_cast<double>(outages)});
    if (!job.leader()) return;
    if (epoch == 0) {
      std::fprintf(stderr, "epoch 0: val_loss %.4f (untrained; ln(vocabulary) = %.4f)\n", val_loss,
                   std::log(static_cast<double>(corpus.vocab_size())));
      return;
    }
    std::fprintf(stderr,
                 "epoch %d: step %lld train_loss %.4f val_loss %.4f epoch_wall_s %.1f "
                 "wall_s %.1f outages %lld%s\n",
                 epoch, static_cast<long long>(loop.next_step), eval_train_loss, val_loss,
                 wall_s - epoch_start_s, wall_s, static_cast<long long>(outages),
                 job.elastic()
                     ? absl::StrCat(" membership_changes ", job.membership_changes()).c_str()
                     : "");
  };

  if (job.elastic()) {
    crosslink::torch::ElasticState& state = *job.state;
    RETURN_IF_ERROR(state.AddNamedTensors("model.", model->named_parameters().pairs()));
    RETURN_IF_ERROR(state.AddNamedTensors("model.", model->named_buffers().pairs()));
    RETURN_IF_ERROR(state.AddOptimizer("adamw", optimizer));
    loop.RegisterPosition(state);
    state.AddValue("val_loss", &val_loss);
    state.AddValue("outages", &outages);
  }
  RETURN_IF_ERROR(loop.Run(job.trainer.get()));

  if (job.leader()) {
    if (flags.sample_chars > 0) {
      std::fprintf(stderr, "sample:\n%s\n", Sample(model, corpus, flags.sample_chars).c_str());
    }
    if (!flags.csv.empty()) RETURN_IF_ERROR(WriteCsv(flags.csv, report));
    if (!flags.plot.empty()) {
      PlotOptions plot;
      plot.title = "Character transformer on Crosslink: loss against wall time";
      plot.y_label = "cross-entropy (nats per character)";
      plot.series = {{"train_loss", "train loss (epoch mean)"}, {"val_loss", "validation loss"}};
      std::tie(plot.outages_wall_s, plot.outage_note) = RankZeroOutages(job, train_start, wall_s);
      // A missing plot does not undo the training: say so and go on to the final line.
      if (absl::Status s = WritePlot(flags.plot, report, plot); !s.ok()) {
        std::fprintf(stderr, "train_char_transformer: no plot: %s\n", s.ToString().c_str());
      }
    }
  }
  if (flags.digest) {
    std::printf("params rank=%d digest=%016llx\n", job.rank(),
                static_cast<unsigned long long>(ParameterDigest(model->parameters())));
    std::fflush(stdout);
  }
  return FinishJob(job, "val_loss", val_loss, outages, wall_s);
}

}  // namespace
}  // namespace crosslink::examples

int main(int argc, char** argv) {
  return crosslink::examples::ExampleMain(argc, argv, "train_char_transformer",
                                          crosslink::examples::ParseFlags,
                                          crosslink::examples::Train);
}
