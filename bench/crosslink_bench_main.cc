// crosslink-bench: collectives over emulated crosslinks, in nccl-tests' format.
//
//   crosslink-bench allreduce [--ranks N] [--scenario FILE|ideal] --min-bytes A --max-bytes B
//       [--step-factor F] [--iters K] [--warmup W] [--algo ring|tree|auto] [--csv OUT]
//       [--plot OUT.png] [--baseline gloo] [--timeout SECONDS] [--transport tcp|shm|auto]
//   crosslink-bench orbit ...   (allreduce along the orbit: bench/crosslink_bench_orbit.h)
//
// --algo naive-ring is the ring in rank order, waiting on every link it meets down (as NCCL or
// Gloo would: its ranks run with CROSSLINK_OUTAGE_MODE=hold unless the environment says
// otherwise, so a surprise fault stalls it instead of being resumed over a detour); contact-aware
// plans from the predicted contact plan (CollectiveOptions:: contact_aware); auto means
// contact-aware on a scenario whose predicted plan has an outage on a rank-order ring link, else
// the cost model's ring or tree.
//
// Without RANK in the environment it launches N ranks of itself through the runtime's launcher
// (the code crosslink-run runs); with RANK set (crosslink-run, or by hand) it is one rank. Rank 0
// prints the table: nccl-tests' columns (GB/s = 10^9 bytes/s, busbw = algbw * 2(n-1)/n) plus a
// lower bound on the time, the ratio to it and the outages met. For `ideal` the bound is the ring
// bound (bench/lib/ring_bound.h) at one loopback stream's measured rate and latency (over the
// transport the ranks use: shared memory or TCP). For a scenario, with outages or without, it is
// the oracle (bench/lib/oracle_bound.h): the simulator's best completion time over the true
// contact plan for the job's ranks, with each pair's real latency and rate, from the orbit time
// each iteration started, averaged; the bound_kind CSV column says which (and rank 0 prints, per
// size, the orbit window each timed iteration spanned). `resent` sums
// CollectiveStats::chunks_resent over ranks and iterations, `participants` is the fewest ranks an
// iteration had. Sizes take K, M, G suffixes (powers of 1024). With --baseline gloo, each size's
// timed iterations alternate between Crosslink and Gloo in 5 rounds (same warmup, same iterations,
// same data), so the ratio printed under the table holds under a drifting load. Each iteration is
// timed on its own; the table's time is --statistic (mean, as nccl-tests; median; best) of each
// rank's iterations, the slowest rank's, for Crosslink and Gloo alike, and the ratio line under
// the table gives the ratio under all three. Under the table, per size: CPU seconds per GB
// reduced (bench/lib/cpu_cost.h: user+system CPU of every rank's process during the timed
// iterations, summed over ranks, per 10^9 bytes of iterations x buffer size), for Crosslink and,
// with --baseline gloo, for Gloo (the same sampling around its own alternating rounds) and the
// ratio Crosslink / Gloo (below 1: Crosslink spends less CPU per byte).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/crosslink_bench_orbit.h"
#include "bench/lib/allreduce_pattern.h"
#include "bench/lib/bench_csv.h"
#include "bench/lib/bench_plot.h"
#include "bench/lib/cpu_cost.h"
#include "bench/lib/gloo_baseline.h"
#include "bench/lib/loopback_probe.h"
#include "bench/lib/oracle_bound.h"
#include "bench/lib/report_table.h"
#include "bench/lib/ring_bound.h"
#include "bench/lib/wire_compression_flag.h"
#include "crosslink/base/flags.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/compression/wire_codec.h"
#include "crosslink/collectives/transport/shm_transport.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/launch_env.h"
#include "crosslink/runtime/launcher.h"

namespace crosslink::bench {
namespace {

using collectives::AllreduceAlgorithm;
using collectives::DataType;
using collectives::ReduceOp;
using runtime::CollectiveOptions;
using runtime::Communicator;

struct BenchArgs {
  std::string collective;
  int ranks = 4;
  std::string scenario = "ideal";
  int64_t min_bytes = 0;
  int64_t max_bytes = 0;
  double step_factor = 2.0;
  int iters = 20;
  int warmup = 5;
  AllreduceAlgorithm algo = AllreduceAlgorithm::kAuto;
  // --algo contact-aware (CollectiveOptions::contact_aware); --algo auto on a scenario whose
  // predicted plan has an outage on the rank-order ring means contact-aware too.
  bool contact_aware = false;
  bool auto_algo = true;
  std::string algo_name = "auto";  // as given to --algo, for the table's header
  std::string csv;
  std::string plot;
  bool gloo = false;
  double timeout_s = 600;
  // --compress: how the allreduce's float32 messages travel (CollectiveOptions::compression).
  collectives::WireCompression compress = collectives::WireCompression::kNone;
  // Same-host data connections (CROSSLINK_TRANSPORT, runtime's DataTransport); empty: inherit.
  std::string transport;
  // Which statistic of the timed iterations the table's time is (the same for Crosslink and
  // Gloo): mean (nccl-tests'), median or best. Each rank computes it over its own iterations and
  // the slowest rank's value is reported.
  std::string statistic = "mean";
};

constexpr char kUsage[] =
    "usage: crosslink-bench allreduce [--ranks N] [--scenario FILE|ideal] --min-bytes A "
    "--max-bytes B\n"
    "         [--step-factor F] [--iters K] [--warmup W] [--algo A] [--csv OUT]\n"
    "         [--plot OUT.png] [--baseline gloo] [--timeout SECONDS] [--transport T]\n"
    "         [--compress none|bf16|int8] [--statistic mean|median|best]\n"
    "Under the table, per size: CPU s/GB = user+system CPU seconds of all ranks' processes\n"
    "during the timed iterations (getrusage around each timed round, summed over ranks)\n"
    "divided by iterations x buffer bytes / 10^9; for Gloo too with --baseline gloo, and the\n"
    "ratio Crosslink / Gloo.\n";
constexpr char kModes[] =
    "usage: crosslink-bench allreduce ...   (crosslink-bench allreduce --help for its flags)\n"
    "       crosslink-bench orbit ...       (crosslink-bench orbit --help; "
    "bench/crosslink_bench_orbit.h)\n";

// The allreduce mode's flags, writing into *args.
void DeclareFlags(base::FlagSet& flags, BenchArgs* args, std::string* baseline) {
  flags.Int("ranks", &args->ranks, "ranks to launch").Min(1);
  flags.String("scenario", &args->scenario, "scenario file, or ideal (loopback links)")
      .ValueName("FILE|ideal");
  flags.ByteSize("min-bytes", &args->min_bytes, "smallest size (K, M, G: powers of 1024)")
      .Required();
  flags.ByteSize("max-bytes", &args->max_bytes, "largest size").Required();
  flags.Double("step-factor", &args->step_factor, "each size is the last times F")
      .Above(1)
      .ValueName("F");
  flags.Int("iters", &args->iters, "timed iterations per size").Min(1);
  flags.Int("warmup", &args->warmup, "untimed iterations per size first").Min(0);
  flags.Choice("algo", &args->algo_name, {"ring", "tree", "auto", "naive-ring", "contact-aware"},
               "naive-ring: the ring in rank order, holding through outages");
  flags.String("csv", &args->csv, "write the rows as CSV here").ValueName("OUT");
  flags.String("plot", &args->plot, "plot bus bandwidth against size here").ValueName("OUT.png");
  flags.Choice("baseline", baseline, {"gloo"}, "also time Gloo's ring allreduce, interleaved");
  flags.Double("timeout", &args->timeout_s, "each collective's timeout")
      .Above(0)
      .ValueName("SECONDS");
  flags.Choice("transport", &args->transport, {"auto", "shm", "tcp"},
               "same-host data connections (auto: shared memory in ideal jobs)");
  flags.Choice("statistic", &args->statistic, {"mean", "median", "best"},
               "the time reported, for Crosslink and Gloo alike: this statistic of each rank's "
               "timed iterations, the slowest rank's");
  WireCompressionFlag(flags, &args->compress,
                      "wire compression; #wrong then counts results outside its error bound");
}

// What the flags leave to check and derive.
absl::Status FinishArgs(BenchArgs& args, const std::string& baseline) {
  if (args.min_bytes > args.max_bytes) {
    return absl::InvalidArgumentError("--min-bytes must not be above --max-bytes");
  }
  args.gloo = baseline == "gloo";
  args.auto_algo = args.algo_name == "auto";
  args.contact_aware = args.algo_name == "contact-aware";
  args.algo = args.algo_name == "ring" || args.algo_name == "naive-ring" ? AllreduceAlgorithm::kRing
              : args.algo_name == "tree"                                 ? AllreduceAlgorithm::kTree
                                         : AllreduceAlgorithm::kAuto;
  return absl::OkStatus();
}

std::vector<int64_t> Sizes(const BenchArgs& args) {
  std::vector<int64_t> sizes;
  for (double s = static_cast<double>(args.min_bytes);
       s <= static_cast<double>(args.max_bytes) * 1.0001; s *= args.step_factor) {
    // Whole floats, at least one.
    int64_t bytes = std::max<int64_t>(4, static_cast<int64_t>(s) / 4 * 4);
    if (sizes.empty() || sizes.back() != bytes) sizes.push_back(bytes);
  }
  return sizes;
}

// The launcher side: N ranks of this very program, through the code crosslink-run uses.
int LaunchSelf(const BenchArgs& args, int argc, char** argv) {
  runtime::LaunchOptions launch;
  launch.num_ranks = args.ranks;
  launch.command.push_back(std::filesystem::read_symlink("/proc/self/exe").string());
  for (int i = 1; i < argc; ++i) launch.command.push_back(argv[i]);
  if (args.scenario != "ideal") launch.scenario_path = args.scenario;
  // The collectives' timeout, plus two minutes for the ranks to join (Communicator setup).
  launch.timeout = absl::Seconds(args.timeout_s) + absl::Minutes(2);
  // The table is rank 0's; no "[rank 0]" prefixes in it.
  launch.output = runtime::OutputMode::kPassThrough;
  absl::StatusOr<runtime::LaunchResult> result = runtime::RunLocalJob(launch);
  if (!result.ok()) {
    std::cerr << "crosslink-bench: " << result.status() << "\n";
    return 2;
  }
  if (result->exit_code != 0) std::cerr << "crosslink-bench: " << result->summary << "\n";
  return result->exit_code;
}

// One double per rank combined on every rank (kMax or kSum), for timings and counts.
absl::StatusOr<double> Combine(Communicator& comm, double value, ReduceOp op) {
  // Contact-aware on a scenario: the rank-order tree may need a link that is predicted down.
  CollectiveOptions options;
  options.contact_aware = comm.predicted_plan() != nullptr;
  RETURN_IF_ERROR(comm.Allreduce(&value, 1, DataType::kFloat64, op, options));
  return value;
}

absl::StatusOr<RingLinkParams> BoundParams(Communicator& comm, const BenchArgs& args) {
  if (comm.true_plan() == nullptr) {
    // The ideal bound: what one loopback stream of the transport the ranks use does (shared
    // memory when the job's connections were upgraded, else TCP). Rank 0 measures while the
    // others wait, so nothing else competes for the cores.
    RingLinkParams params;
    if (comm.rank() == 0) {
      const bool shm = absl::StartsWith(comm.transport_summary(), "shm");
      ContextFactory factory =
          [shm](int rank) -> absl::StatusOr<std::unique_ptr<collectives::Context>> {
        constexpr uint64_t kProbeJob = 0x6c6f6f70626163ull;
        if (!shm) return collectives::MakeTcpContext(rank, kProbeJob);
        ASSIGN_OR_RETURN(std::unique_ptr<collectives::ShmContext> context,
                         collectives::MakeShmContext(rank, kProbeJob));
        return std::unique_ptr<collectives::Context>(std::move(context));
      };
      LoopbackProbeOptions probe;
      probe.deadline = absl::Now() + absl::Seconds(60);
      ASSIGN_OR_RETURN(LoopbackProbeResult result, ProbeLoopback(factory, probe));
      params.rate_bytes_per_s = result.stream_rate_bytes_per_s;
      params.latency_s = result.latency_s;
    }
    ASSIGN_OR_RETURN(params.rate_bytes_per_s,
                     Combine(comm, params.rate_bytes_per_s, ReduceOp::kMax));
    ASSIGN_OR_RETURN(params.latency_s, Combine(comm, params.latency_s, ReduceOp::kMax));
    return params;
  }
  std::vector<int> sats(comm.rank_satellites().begin(),
                        comm.rank_satellites().begin() + comm.world_size());
  return RingLinkParamsAt(*comm.true_plan(), sats, comm.clock()->OrbitNow());
}

// True when the predicted plan has the link between ring neighbours i, i+1 (rank order) down
// somewhere in its window: the scenarios with outages, where --algo auto means contact-aware.
bool PredictedRingOutage(const linkmodel::ContactPlan* predicted, const std::vector<int>& sats,
                         int n) {
  if (predicted == nullptr || n < 2) return false;
  for (int r = 0; r < n; ++r) {
    const int a = sats[r];
    const int b = sats[(r + 1) % n];
    if (predicted->RemainingUp(a, b, 0.0) < predicted->duration_s()) return true;
  }
  return false;
}

// What the timed iterations of one size met: their orbit start times (rank 0, for the oracle),
// the chunks resent and the fewest participants (CollectiveStats).
struct IterationTally {
  explicit IterationTally(int world_size) : participants(world_size) {}
  void Add(const runtime::CollectiveStats& stats) {
    resent += stats.chunks_resent;
    // 0: the runtime did not count them, which it does only for partial results.
    if (stats.participants > 0) participants = std::min(participants, stats.participants);
  }
  std::vector<double> starts_orbit_s;
  std::vector<double> ends_orbit_s;
  int64_t resent = 0;
  int participants;
};

// With a baseline, the timed iterations of each size run in this many alternating rounds.
constexpr int kRounds = 5;

// `which` (mean, median or best) of per-iteration microseconds; the median of an even count is
// the mean of the middle two.
double IterationStatistic(std::vector<double> us, const std::string& which) {
  if (us.empty()) return 0;
  if (which == "best") return *std::min_element(us.begin(), us.end());
  if (which == "median") {
    std::sort(us.begin(), us.end());
    const size_t k = us.size();
    return k % 2 == 1 ? us[k / 2] : (us[k / 2 - 1] + us[k / 2]) / 2;
  }
  double sum = 0;
  for (double u : us) sum += u;
  return sum / static_cast<double>(us.size());
}

constexpr const char* kStatistics[] = {"mean", "median", "best"};

absl::Status RunRank(const BenchArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<Communicator> comm,
                   Communicator::CreateFromEnvironment(absl::Seconds(120)));
  const int n = comm->world_size();
  const bool root = comm->rank() == 0;
  // The ring's link parameters, for the header (and, ideal, the bound). A scenario that starts
  // with a ring hop cut off has none (rate 0); its bound is the oracle anyway.
  absl::StatusOr<RingLinkParams> link_or = BoundParams(*comm, args);
  if (!link_or.ok() && (comm->true_plan() == nullptr || !absl::IsUnavailable(link_or.status()))) {
    return link_or.status();
  }
  const RingLinkParams link = link_or.value_or(RingLinkParams{});
  // On a scenario the bound is the oracle (oracle_bound.h), outages or not: rank 0 simulates it
  // for the iterations' start times after timing.
  std::optional<OracleBound> oracle;
  if (root && comm->true_plan() != nullptr) {
    OracleBoundOptions oracle_options;
    oracle_options.time_scale = comm->clock()->time_scale();
    oracle_options.simulator.deadline_s = args.timeout_s;
    // rank_satellites() lists the scenario's whole cluster; the job's ranks are its first n.
    std::vector<int> sats(comm->rank_satellites().begin(), comm->rank_satellites().begin() + n);
    ASSIGN_OR_RETURN(oracle,
                     OracleBound::Create(comm->true_plan(), std::move(sats), oracle_options));
  }
  if (root) {
    const char* requested = std::getenv("CROSSLINK_TRANSPORT");
    std::printf("# transport: %s (rank 0; requested %s)\n", comm->transport_summary().c_str(),
                requested != nullptr && *requested != '\0' ? requested : "auto");
    std::printf(
        "# crosslink-bench allreduce: %d ranks, scenario %s, link %.3f GB/s, %.1f us; "
        "algo %s, iters %d, warmup %d\n",
        n, args.scenario.c_str(), link.rate_bytes_per_s / 1e9, link.latency_s * 1e6,
        args.algo_name.c_str(), args.iters, args.warmup);
    std::printf(
        "# time: the %s of each rank's %d timed iterations (each timed on its own), the slowest "
        "rank's%s\n",
        args.statistic.c_str(), args.iters,
        args.gloo ? "; the same statistic for Gloo, whose iterations alternate with ours" : "");
    std::fflush(stdout);
  }
  CollectiveOptions options;
  options.algorithm = args.algo;
  options.compression = args.compress;
  const bool ring_outage =
      PredictedRingOutage(comm->predicted_plan().get(), comm->rank_satellites(), n);
  options.contact_aware = args.contact_aware || (args.auto_algo && ring_outage);
  options.timeout = absl::Seconds(args.timeout_s);

  // With --baseline gloo, Gloo's context is connected up front and the two libraries' timed
  // iterations alternate in rounds, so that a change in the machine's load (other jobs on a
  // shared host) falls on both alike instead of on whichever ran second. Both get the same
  // warmup, the same number of timed iterations of the same size and type, a barrier before each
  // timed round (outside the clock) and their result check only after all timing.
  std::unique_ptr<GlooSession> gloo;
  GlooBaselineOptions gloo_options;
  if (args.gloo) {
    gloo_options.rank = comm->rank();
    gloo_options.world_size = n;
    gloo_options.store_dir = std::filesystem::temp_directory_path() /
                             absl::StrCat("crosslink-bench-gloo-", comm->job_id());
    gloo_options.prefix = comm->job_id();
    gloo_options.timeout = absl::Seconds(args.timeout_s);
    RETURN_IF_ERROR(comm->Barrier(options));
    absl::StatusOr<std::unique_ptr<GlooSession>> session = GlooSession::Connect(gloo_options);
    // Every rank reaches this barrier, so rank 0 removes the store only when nobody reads it.
    RETURN_IF_ERROR(comm->Barrier(options));
    if (root) {
      std::error_code ec;
      std::filesystem::remove_all(gloo_options.store_dir, ec);
    }
    RETURN_IF_ERROR(session.status());
    gloo = std::move(session).value();
  }
  const int rounds = gloo != nullptr ? std::min(args.iters, kRounds) : 1;

  std::vector<BenchRow> rows, gloo_rows;
  // Per size: Gloo's time / Crosslink's (= busbw crosslink / gloo) under each of kStatistics.
  std::vector<std::vector<double>> gloo_ratios;
  // Per size: CPU seconds per GB reduced (cpu_cost.h), all ranks together.
  std::vector<double> cpu_per_gb, gloo_cpu_per_gb;
  const std::vector<int64_t> sizes = Sizes(args);
  for (int64_t bytes : sizes) {
    const size_t count = static_cast<size_t>(bytes) / sizeof(float);
    std::vector<float> data(count), gloo_data(gloo != nullptr ? count : 0);
    FillPattern(comm->rank(), absl::MakeSpan(data));
    if (gloo != nullptr) FillPattern(comm->rank(), absl::MakeSpan(gloo_data));
    for (int i = 0; i < args.warmup; ++i) {
      RETURN_IF_ERROR(
          comm->Allreduce(data.data(), count, DataType::kFloat32, ReduceOp::kSum, options));
    }
    for (int i = 0; gloo != nullptr && i < args.warmup; ++i) {
      RETURN_IF_ERROR(gloo->Allreduce(absl::MakeSpan(gloo_data)));
    }
    const int64_t outages_before = comm->outages_met();
    std::vector<double> iteration_us, gloo_iteration_us;
    double cpu_s = 0, gloo_cpu_s = 0;  // this process's CPU seconds in the timed rounds
    IterationTally tally(n);
    for (int round = 0; round < rounds; ++round) {
      const int iters = args.iters / rounds + (round < args.iters % rounds ? 1 : 0);
      RETURN_IF_ERROR(comm->Barrier(options));
      const CpuSample round_start = SampleProcessCpu();
      for (int i = 0; i < iters; ++i) {
        if (oracle.has_value()) tally.starts_orbit_s.push_back(comm->clock()->OrbitNow());
        const absl::Time start = absl::Now();
        RETURN_IF_ERROR(
            comm->Allreduce(data.data(), count, DataType::kFloat32, ReduceOp::kSum, options));
        iteration_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
        if (oracle.has_value()) tally.ends_orbit_s.push_back(comm->clock()->OrbitNow());
        tally.Add(comm->last_stats());
      }
      cpu_s += CpuSecondsBetween(round_start, SampleProcessCpu());
      if (gloo == nullptr) continue;
      RETURN_IF_ERROR(gloo->Barrier());
      const CpuSample gloo_round_start = SampleProcessCpu();
      for (int i = 0; i < iters; ++i) {
        const absl::Time start = absl::Now();
        RETURN_IF_ERROR(gloo->Allreduce(absl::MakeSpan(gloo_data)));
        gloo_iteration_us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
      }
      gloo_cpu_s += CpuSecondsBetween(gloo_round_start, SampleProcessCpu());
    }
    if (oracle.has_value()) {
      // Which orbit instants each timed iteration spanned, so a run's outages (crosslink-run
      // --netns logs each link change with its orbit time) can be matched to the iterations
      // they cut.
      std::string windows;
      for (size_t i = 0; i < tally.starts_orbit_s.size() && i < tally.ends_orbit_s.size(); ++i) {
        absl::StrAppend(
            &windows, " ",
            absl::StrFormat("%.3f-%.3f", tally.starts_orbit_s[i], tally.ends_orbit_s[i]));
      }
      std::printf("# orbit s of the timed iterations of %lld bytes (rank 0):%s\n",
                  static_cast<long long>(bytes), windows.c_str());
      std::fflush(stdout);
    }
    const double time_us = IterationStatistic(iteration_us, args.statistic);
    {
      ASSIGN_OR_RETURN(double all_cpu_s, Combine(*comm, cpu_s, ReduceOp::kSum));
      cpu_per_gb.push_back(CpuSecondsPerGb(all_cpu_s, bytes, args.iters));
      ASSIGN_OR_RETURN(double all_gloo_cpu_s, Combine(*comm, gloo_cpu_s, ReduceOp::kSum));
      gloo_cpu_per_gb.push_back(CpuSecondsPerGb(all_gloo_cpu_s, bytes, args.iters));
    }
    const int64_t outages = comm->outages_met() - outages_before;
    // The timed loops reduced sums of sums; the checks reduce fresh data once, after all timing.
    FillPattern(comm->rank(), absl::MakeSpan(data));
    RETURN_IF_ERROR(
        comm->Allreduce(data.data(), count, DataType::kFloat32, ReduceOp::kSum, options));
    double max_error = 0;  // compressed: largest |error| relative to the bound's W
    const int64_t wrong =
        args.compress == collectives::WireCompression::kNone
            ? CountWrongSum(n, data)
            : CountOutsideBound(n, data,
                                collectives::CompressedAllreduceErrorFactor(args.compress, n),
                                args.compress == collectives::WireCompression::kBf16, &max_error);
    if (root && args.compress != collectives::WireCompression::kNone) {
      std::printf("# %lld bytes, %s on the wire: max |error| %.3g of W, bound %.3g of W\n",
                  static_cast<long long>(bytes), collectives::WireCompressionName(args.compress),
                  max_error, collectives::CompressedAllreduceErrorFactor(args.compress, n));
    }

    BenchRow row;
    row.impl = "crosslink";
    row.ranks = n;
    row.bytes = bytes;
    row.count = static_cast<int64_t>(count);
    row.type = "float";
    row.redop = "sum";
    ASSIGN_OR_RETURN(row.time_us, Combine(*comm, time_us, ReduceOp::kMax));
    ASSIGN_OR_RETURN(double wrong_sum, Combine(*comm, static_cast<double>(wrong), ReduceOp::kSum));
    ASSIGN_OR_RETURN(double outages_sum,
                     Combine(*comm, static_cast<double>(outages), ReduceOp::kSum));
    row.wrong = static_cast<int64_t>(wrong_sum);
    row.outages = static_cast<int64_t>(outages_sum);
    ASSIGN_OR_RETURN(double resent_sum,
                     Combine(*comm, static_cast<double>(tally.resent), ReduceOp::kSum));
    ASSIGN_OR_RETURN(double participants_min,
                     Combine(*comm, static_cast<double>(tally.participants), ReduceOp::kMin));
    row.resent = static_cast<int64_t>(resent_sum);
    row.participants = static_cast<int>(participants_min);
    if (oracle.has_value()) {
      ASSIGN_OR_RETURN(double oracle_s, oracle->MeanWallSeconds(bytes, tally.starts_orbit_s));
      row.bound_kind = "oracle";
      row.bound_us = oracle_s * 1e6;
    } else if (link.rate_bytes_per_s > 0) {
      row.bound_kind = "ring";
      row.bound_us = RingAllreduceBoundS(n, static_cast<double>(bytes), link.rate_bytes_per_s,
                                         link.latency_s) *
                     1e6;
    }
    FillDerivedColumns(row);
    rows.push_back(row);

    if (gloo == nullptr) continue;
    FillPattern(comm->rank(), absl::MakeSpan(gloo_data));
    RETURN_IF_ERROR(gloo->Allreduce(absl::MakeSpan(gloo_data)));
    const int64_t gloo_wrong = CountWrongSum(n, gloo_data);
    BenchRow gloo_row = row;
    gloo_row.impl = "gloo";
    ASSIGN_OR_RETURN(
        gloo_row.time_us,
        Combine(*comm, IterationStatistic(gloo_iteration_us, args.statistic), ReduceOp::kMax));
    // The ratio under every statistic, so one run shows how much the choice matters.
    std::vector<double> ratios;
    for (const char* statistic : kStatistics) {
      ASSIGN_OR_RETURN(double ours,
                       Combine(*comm, IterationStatistic(iteration_us, statistic), ReduceOp::kMax));
      ASSIGN_OR_RETURN(
          double theirs,
          Combine(*comm, IterationStatistic(gloo_iteration_us, statistic), ReduceOp::kMax));
      ratios.push_back(ours > 0 ? theirs / ours : 0);
    }
    gloo_ratios.push_back(ratios);
    ASSIGN_OR_RETURN(double gloo_wrong_sum,
                     Combine(*comm, static_cast<double>(gloo_wrong), ReduceOp::kSum));
    gloo_row.wrong = static_cast<int64_t>(gloo_wrong_sum);
    gloo_row.outages = 0;
    gloo_row.resent.reset();
    gloo_row.participants.reset();
    FillDerivedColumns(gloo_row);
    gloo_rows.push_back(gloo_row);
  }
  if (gloo != nullptr) RETURN_IF_ERROR(gloo->Barrier());
  rows.insert(rows.end(), gloo_rows.begin(), gloo_rows.end());

  if (!root) return absl::OkStatus();
  const std::string title = absl::StrCat("allreduce, ", n, " ranks, scenario ", args.scenario);
  PrintReportTable(std::cout, title, rows);
  if (args.gloo) {
    const size_t k = sizes.size();
    for (size_t i = 0; i < k; ++i) {
      std::printf("# %s: busbw crosslink / gloo = %.2f (%s of iterations, both sides)",
                  FormatSize(rows[i].bytes).c_str(),
                  rows[k + i].busbw_gbs > 0 ? rows[i].busbw_gbs / rows[k + i].busbw_gbs : 0.0,
                  args.statistic.c_str());
      std::printf("; by statistic:");
      for (size_t s = 0; s < std::size(kStatistics); ++s) {
        std::printf(" %s %.2f", kStatistics[s], gloo_ratios[i][s]);
      }
      std::printf("\n");
    }
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::printf("# %s: CPU s/GB reduced (user+system, all ranks): crosslink %.3f",
                FormatSize(sizes[i]).c_str(), cpu_per_gb[i]);
    if (args.gloo) {
      std::printf(", gloo %.3f, crosslink / gloo = %.2f", gloo_cpu_per_gb[i],
                  gloo_cpu_per_gb[i] > 0 ? cpu_per_gb[i] / gloo_cpu_per_gb[i] : 0.0);
    }
    std::printf("\n");
  }
  int64_t wrong_total = 0;
  for (const BenchRow& r : rows) wrong_total += r.wrong;
  std::printf("# Out of bounds values : %lld %s\n", static_cast<long long>(wrong_total),
              wrong_total == 0 ? "OK" : "FAILED");
  std::fflush(stdout);
  if (!args.csv.empty()) RETURN_IF_ERROR(WriteBenchCsv(args.csv, rows));
  if (!args.plot.empty()) {
    PlotOptions plot;
    plot.png = args.plot;
    plot.title = title;
#ifdef CROSSLINK_GNUPLOT
    plot.gnuplot = CROSSLINK_GNUPLOT;
#endif
    RETURN_IF_ERROR(WriteBusBandwidthPlot(plot, rows));
  }
  if (wrong_total != 0) {
    return absl::DataLossError(absl::StrCat(wrong_total, " elements of the results are wrong"));
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace crosslink::bench

int main(int argc, char** argv) {
  std::vector<std::string> raw(argv + 1, argv + argc);
  if (crosslink::bench::IsOrbitMode(raw)) return crosslink::bench::RunOrbitMode(raw);
  if (raw.empty() || raw[0] != "allreduce") {
    if (!raw.empty() && crosslink::base::IsHelpArgument(raw[0])) {
      std::cout << crosslink::bench::kModes;
      return 0;
    }
    std::cerr << "crosslink-bench: the first argument must be the mode (allreduce or orbit)\n"
              << crosslink::bench::kModes;
    return 2;
  }
  crosslink::bench::BenchArgs args;
  args.collective = raw[0];
  std::string baseline;
  crosslink::base::FlagSet flags("crosslink-bench allreduce", crosslink::bench::kUsage);
  crosslink::bench::DeclareFlags(flags, &args, &baseline);
  if (std::optional<int> exit_code = flags.ParseMain(argc, argv, 2)) return *exit_code;
  if (absl::Status s = crosslink::bench::FinishArgs(args, baseline); !s.ok()) {
    std::cerr << flags.UsageError(s.message());
    return 2;
  }
  // Through the environment, so that the ranks (launched below, or by crosslink-run) see it.
  if (!args.transport.empty()) ::setenv("CROSSLINK_TRANSPORT", args.transport.c_str(), 1);
  // The baseline waits for its links as NCCL or Gloo would (0: keep a mode set by the caller).
  if (args.algo_name == "naive-ring") ::setenv("CROSSLINK_OUTAGE_MODE", "hold", 0);
  const crosslink::runtime::EnvMap env = crosslink::runtime::ProcessEnv();
  if (!crosslink::runtime::IsLaunchedRank(env)) {
    return crosslink::bench::LaunchSelf(args, argc, argv);
  }
  // Under srun or mpirun, rank 0 hosts the coordinator and serves it the scenario named here
  // (crosslink-run passes it as CROSSLINK_SCENARIO itself; one set by the caller wins).
  if (args.scenario != "ideal") ::setenv("CROSSLINK_SCENARIO", args.scenario.c_str(), 0);
  absl::Status status = crosslink::bench::RunRank(args);
  if (!status.ok()) {
    absl::StatusOr<crosslink::runtime::LaunchEnv> launch = crosslink::runtime::ParseLaunchEnv(env);
    std::cerr << "crosslink-bench rank " << (launch.ok() ? launch->rank : -1) << ": " << status
              << "\n";
    return 1;
  }
  return 0;
}
