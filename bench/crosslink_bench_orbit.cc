// crosslink-bench orbit: see crosslink_bench_orbit.h.
#include "bench/crosslink_bench_orbit.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/lib/allreduce_pattern.h"
#include "crosslink/base/flags.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/scenario_builder.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/launcher.h"

namespace crosslink::bench {
namespace {

using collectives::AllreduceAlgorithm;
using collectives::DataType;
using collectives::ReduceOp;

struct OrbitArgs {
  std::string scenario;
  int ranks = 8;
  int64_t bytes = 4 << 20;
  std::string algo = "contact-aware";
  int iters = 0;       // 0: run for orbit_s instead
  double orbit_s = 0;  // orbit seconds to cover from the start
  double start_s = 0;
  double time_scale = 0;  // 0: the scenario's
  double deadline_s = 20;
  std::string csv;
  std::string plot;
  std::string compare;
  std::string rank_dir;  // internal: where ranks write their rows
};

constexpr char kUsage[] =
    "usage: crosslink-bench orbit --scenario FILE --ranks N --bytes S --algo A "
    "[--iters K | --orbit-s T]\n"
    "         [--start-s T0] [--time-scale X] [--deadline-s D] [--csv OUT] [--plot OUT.png]\n"
    "         [--compare naive-ring]\n"
    "       A: contact-aware|naive-ring|ring|tree|auto\n";

std::vector<std::string> Algos() { return {"contact-aware", "naive-ring", "ring", "tree", "auto"}; }

// Parses the orbit mode's flags (argv[0] is "orbit"); nullopt to carry on, else the exit code.
std::optional<int> Parse(const std::vector<std::string>& argv, OrbitArgs* args) {
  base::FlagSet flags("crosslink-bench orbit", kUsage);
  flags.String("scenario", &args->scenario, "the scenario file").ValueName("FILE").Required();
  flags.Int("ranks", &args->ranks, "ranks to launch").Min(2);
  flags.ByteSize("bytes", &args->bytes, "allreduce size (K, M, G: powers of 1024)").Min(8);
  flags.Choice("algo", &args->algo, Algos(), "the algorithm");
  flags.Int("iters", &args->iters, "iterations to run").Min(1).DefaultText("");
  flags.Double("orbit-s", &args->orbit_s, "orbit seconds to cover instead")
      .Above(0)
      .DefaultText("");
  flags.Double("start-s", &args->start_s, "orbit time to start at").Min(0).ValueName("T0");
  flags.Double("time-scale", &args->time_scale, "orbit seconds per wall second")
      .Above(0)
      .DefaultText("the scenario's");
  flags.Double("deadline-s", &args->deadline_s, "each collective's deadline").Above(0);
  flags.String("csv", &args->csv, "write the iterations as CSV here").ValueName("OUT");
  flags.String("plot", &args->plot, "plot wall time against orbit time here").ValueName("OUT.png");
  flags.Choice("compare", &args->compare, Algos(), "a second algorithm to run and plot beside");
  flags.String("rank-dir", &args->rank_dir, "(internal) where ranks write their rows");
  absl::StatusOr<base::FlagSet::Parsed> parsed =
      flags.Parse(absl::MakeConstSpan(argv).subspan(std::min<size_t>(1, argv.size())));
  if (parsed.ok() && parsed->help) {
    std::cout << flags.Help();
    return 0;
  }
  absl::Status status = parsed.status();
  if (status.ok() && args->scenario == "ideal") {
    status = absl::InvalidArgumentError("--scenario FILE is required (not ideal)");
  }
  if (status.ok() && (args->iters == 0) == (args->orbit_s == 0)) {
    status = absl::InvalidArgumentError("give one of --iters and --orbit-s");
  }
  if (status.ok()) return std::nullopt;
  std::cerr << flags.UsageError(status.message());
  return 2;
}

// One iteration as one rank saw it.
struct Row {
  int iter = 0;
  double orbit_s = 0;
  double wall_s = 0;
  int64_t outages = 0;
  int64_t wrong = 0;
  bool failed = false;
  std::string error;
};

// The rank side. The last float of the buffer carries rank 0's stop decision for --orbit-s (the
// ranks' clocks agree only to within a collective, so one rank decides and the allreduce itself
// tells the others); the wrong-element check covers the others.
absl::Status RunRank(const OrbitArgs& args) {
  ASSIGN_OR_RETURN(std::unique_ptr<runtime::Communicator> comm,
                   runtime::Communicator::CreateFromEnvironment(absl::Seconds(120)));
  const int n = comm->world_size();
  runtime::CollectiveOptions options;
  // contact-aware picks ring or tree itself, as crosslink-sim's contact-aware does.
  options.algorithm = args.algo == "tree" ? AllreduceAlgorithm::kTree
                      : args.algo == "auto" || args.algo == "contact-aware"
                          ? AllreduceAlgorithm::kAuto
                          : AllreduceAlgorithm::kRing;
  options.contact_aware = args.algo == "contact-aware";
  options.timeout = absl::Seconds(args.deadline_s);
  // Start together, over links the predicted plan has up (setup takes ranks different times).
  runtime::CollectiveOptions sync;
  sync.contact_aware = true;
  sync.timeout = absl::Seconds(60);
  RETURN_IF_ERROR(comm->Barrier(sync));

  const size_t count = static_cast<size_t>(args.bytes) / sizeof(float);
  std::vector<float> data(count);
  const double start_s = comm->clock()->OrbitNow();
  std::ofstream out(std::filesystem::path(args.rank_dir) / absl::StrCat("rank", comm->rank()));
  for (int i = 0;; ++i) {
    FillPattern(comm->rank(), absl::MakeSpan(data.data(), count - 1));
    const bool stop_here =
        args.iters > 0 ? i + 1 >= args.iters : comm->clock()->OrbitNow() >= start_s + args.orbit_s;
    data[count - 1] = comm->rank() == 0 && stop_here ? 1.0f : 0.0f;
    Row row;
    row.iter = i;
    row.orbit_s = comm->clock()->OrbitNow();
    const int64_t outages_before = comm->outages_met();
    const absl::Time t0 = absl::Now();
    absl::Status status =
        comm->Allreduce(data.data(), count, DataType::kFloat32, ReduceOp::kSum, options);
    row.wall_s = absl::ToDoubleSeconds(absl::Now() - t0);
    row.outages = comm->outages_met() - outages_before;
    row.failed = !status.ok();
    if (!status.ok()) {
      row.error = absl::StatusCodeToString(status.code());
    } else {
      row.wrong = CountWrongSum(n, absl::MakeConstSpan(data.data(), count - 1));
    }
    out << row.iter << "," << row.orbit_s << "," << row.wall_s << "," << row.outages << ","
        << row.wrong << "," << (row.failed ? 1 : 0) << "," << row.error << "\n";
    out.flush();
    // A failed collective leaves the links out of step (communicator.h): the job ends here.
    if (!status.ok() || data[count - 1] != 0.0f) break;
  }
  return absl::OkStatus();
}

// Merged rows of one job: orbit time from rank 0, slowest rank's wall time, sums over ranks.
absl::StatusOr<std::vector<Row>> MergeRanks(const std::filesystem::path& dir, int ranks) {
  std::map<int, Row> merged;
  std::map<int, int> seen;
  for (int r = 0; r < ranks; ++r) {
    std::ifstream in(dir / absl::StrCat("rank", r));
    std::string line;
    while (std::getline(in, line)) {
      std::vector<std::string> f = absl::StrSplit(line, ',');
      if (f.size() < 6) continue;
      Row row;
      int failed = 0;
      if (!absl::SimpleAtoi(f[0], &row.iter) || !absl::SimpleAtod(f[1], &row.orbit_s) ||
          !absl::SimpleAtod(f[2], &row.wall_s) || !absl::SimpleAtoi(f[3], &row.outages) ||
          !absl::SimpleAtoi(f[4], &row.wrong) || !absl::SimpleAtoi(f[5], &failed)) {
        return absl::DataLossError(absl::StrCat("rank ", r, " wrote a bad row: ", line));
      }
      row.failed = failed != 0;
      if (f.size() > 6) row.error = f[6];
      Row& m = merged[row.iter];
      if (seen[row.iter]++ == 0 || r == 0) m.orbit_s = row.orbit_s;
      m.iter = row.iter;
      m.wall_s = std::max(m.wall_s, row.wall_s);
      m.outages += row.outages;
      m.wrong += row.wrong;
      if (row.failed) {
        m.failed = true;
        if (m.error.empty()) m.error = absl::StrCat("rank ", r, " ", row.error);
      }
    }
  }
  std::vector<Row> rows;
  for (auto& [iter, row] : merged) {
    if (seen[iter] < ranks && !row.failed) {
      row.failed = true;
      row.error = "a rank recorded no result";
    }
    rows.push_back(row);
  }
  return rows;
}

absl::StatusOr<std::vector<Row>> LaunchJob(const OrbitArgs& args, const std::string& algo) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    absl::StrCat("crosslink-bench-orbit-", getpid(), "-", algo);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  runtime::LaunchOptions launch;
  launch.num_ranks = args.ranks;
  launch.command = {std::filesystem::read_symlink("/proc/self/exe").string(),
                    "orbit",
                    "--scenario",
                    args.scenario,
                    "--bytes",
                    absl::StrCat(args.bytes),
                    "--algo",
                    algo,
                    "--deadline-s",
                    absl::StrCat(args.deadline_s),
                    "--rank-dir",
                    dir.string()};
  if (args.iters > 0) {
    launch.command.insert(launch.command.end(), {"--iters", absl::StrCat(args.iters)});
  } else {
    launch.command.insert(launch.command.end(), {"--orbit-s", absl::StrCat(args.orbit_s)});
  }
  launch.scenario_path = args.scenario;
  launch.output = runtime::OutputMode::kPrefix;
  // Setup, the run and one deadline for the iteration that fails.
  const double orbit_wall_s =
      args.orbit_s / (args.time_scale > 0 ? args.time_scale : 1.0) + args.deadline_s;
  launch.timeout =
      absl::Seconds(120 + (args.iters > 0 ? args.iters * args.deadline_s : orbit_wall_s * 2));
  setenv("CROSSLINK_ORBIT_START_S", absl::StrCat(args.start_s).c_str(), 1);
  if (args.time_scale > 0) setenv("CROSSLINK_TIME_SCALE", absl::StrCat(args.time_scale).c_str(), 1);
  // The naive ring waits for its links as NCCL or Gloo would; the others resume cut links (the
  // Communicator's default). A mode the caller set applies to both.
  const char* caller_mode = std::getenv("CROSSLINK_OUTAGE_MODE");
  const bool hold_for_naive = algo == "naive-ring" && caller_mode == nullptr;
  if (hold_for_naive) setenv("CROSSLINK_OUTAGE_MODE", "hold", 1);
  absl::StatusOr<runtime::LaunchResult> launched = runtime::RunLocalJob(launch);
  if (hold_for_naive) unsetenv("CROSSLINK_OUTAGE_MODE");
  ASSIGN_OR_RETURN(runtime::LaunchResult result, std::move(launched));
  if (result.exit_code != 0)
    std::cerr << "crosslink-bench orbit (" << algo << "): " << result.summary << "\n";
  absl::StatusOr<std::vector<Row>> rows = MergeRanks(dir, args.ranks);
  std::filesystem::remove_all(dir);
  return rows;
}

// Outage intervals [start, end) of the rank-order ring's links in the TRUE plan within
// [from_s, to_s], for the plot's shading.
absl::StatusOr<std::vector<std::pair<double, double>>> RingOutages(const OrbitArgs& args,
                                                                   double from_s, double to_s) {
  ASSIGN_OR_RETURN(linkmodel::Scenario scenario, linkmodel::LoadScenario(args.scenario));
  ASSIGN_OR_RETURN(linkmodel::ScenarioPlans plans, linkmodel::BuildScenarioPlans(scenario));
  ASSIGN_OR_RETURN(std::vector<int> sats,
                   linkmodel::ResolveRankSatellites(scenario, plans.constellation));
  std::vector<std::pair<double, double>> out;
  const int n = std::min<int>(args.ranks, sats.size());
  for (int r = 0; r < n; ++r) {
    auto link = plans.truth.FindLink(sats[r], sats[(r + 1) % n]);
    if (!link) {
      out.push_back({from_s, to_s});  // no direct link at all: relayed or never up
      continue;
    }
    for (const linkmodel::Segment& seg : plans.truth.links()[*link].segments) {
      if (seg.state == linkmodel::LinkState::kUp || seg.end_s < from_s || seg.start_s > to_s) {
        continue;
      }
      out.push_back({std::max(seg.start_s, from_s), std::min(seg.end_s, to_s)});
    }
  }
  return out;
}

absl::Status WritePlot(const OrbitArgs& args,
                       const std::vector<std::pair<std::string, std::vector<Row>>>& runs) {
  double from_s = 1e300, to_s = -1e300;
  for (const auto& [algo, rows] : runs) {
    for (const Row& row : rows) {
      from_s = std::min(from_s, row.orbit_s);
      to_s = std::max(to_s, row.orbit_s);
    }
  }
  if (from_s > to_s) return absl::InvalidArgumentError("no iterations to plot");
  ASSIGN_OR_RETURN(auto outages, RingOutages(args, from_s, to_s + 1));
  const std::string data_path = args.plot + ".dat";
  std::ofstream dat(data_path);
  for (const auto& [algo, rows] : runs) {
    dat << "# " << algo << "\n";
    for (const Row& row : rows) {
      dat << row.orbit_s << " " << row.wall_s << " " << (row.failed ? 1 : 0) << "\n";
    }
    dat << "\n\n";
  }
  dat.close();
  const std::string gp_path = args.plot + ".gp";
  std::ofstream gp(gp_path);
  gp << "set terminal pngcairo size 1100,600\nset output '" << args.plot << "'\n"
     << "set title 'allreduce " << args.bytes << " B, " << args.ranks << " ranks, "
     << std::filesystem::path(args.scenario).stem().string()
     << " (shaded: true outages of rank-order ring links)'\n"
     << "set xlabel 'orbit time (s)'\nset ylabel 'wall time per iteration (s)'\nset logscale y\n"
     << "set key top left\nset grid\n";
  int k = 1;
  for (const auto& [a, b] : outages) {
    gp << "set object " << k++ << " rect from " << a << ", graph 0 to " << b
       << ", graph 1 fc rgb '#f4b0b0' fs solid 0.35 noborder behind\n";
  }
  gp << "plot ";
  for (size_t i = 0; i < runs.size(); ++i) {
    if (i > 0) gp << ", ";
    gp << "'" << data_path << "' index " << i << " using 1:($3==0?$2:1/0) with linespoints title '"
       << runs[i].first << "', '" << data_path << "' index " << i
       << " using 1:($3==1?$2:1/0) with points pt 2 ps 2 title '" << runs[i].first
       << " failed (deadline)'";
  }
  gp << "\n";
  gp.close();
  const std::string command = absl::StrCat("gnuplot '", gp_path, "'");
  if (std::system(command.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("gnuplot failed on ", gp_path));
  }
  return absl::OkStatus();
}

int Launch(const OrbitArgs& args) {
  std::vector<std::pair<std::string, std::vector<Row>>> runs;
  std::vector<std::string> algos = {args.algo};
  if (!args.compare.empty()) algos.push_back(args.compare);
  for (const std::string& algo : algos) {
    absl::StatusOr<std::vector<Row>> rows = LaunchJob(args, algo);
    if (!rows.ok()) {
      std::cerr << "crosslink-bench orbit (" << algo << "): " << rows.status() << "\n";
      return 1;
    }
    runs.emplace_back(algo, *std::move(rows));
  }
  std::ostringstream csv;
  csv << "algo,iter,orbit_s,wall_s,outages,wrong,failed,error\n";
  int64_t wrong_total = 0;
  std::printf("# crosslink-bench orbit: %s, %d ranks, %lld bytes, start %.1f s, deadline %.1f s\n",
              args.scenario.c_str(), args.ranks, static_cast<long long>(args.bytes), args.start_s,
              args.deadline_s);
  std::printf("# %-14s %5s %10s %10s %8s %7s %s\n", "algo", "iter", "orbit_s", "wall_s", "outages",
              "#wrong", "status");
  for (const auto& [algo, rows] : runs) {
    double total = 0;
    int failed = 0;
    for (const Row& row : rows) {
      std::printf("  %-14s %5d %10.3f %10.4f %8lld %7lld %s\n", algo.c_str(), row.iter, row.orbit_s,
                  row.wall_s, static_cast<long long>(row.outages),
                  static_cast<long long>(row.wrong), row.failed ? row.error.c_str() : "ok");
      csv << algo << "," << row.iter << "," << row.orbit_s << "," << row.wall_s << ","
          << row.outages << "," << row.wrong << "," << (row.failed ? 1 : 0) << "," << row.error
          << "\n";
      total += row.wall_s;
      failed += row.failed ? 1 : 0;
      wrong_total += row.wrong;
    }
    std::printf("# %s: %zu iterations, %d failed, %.3f s wall in all, mean %.4f s\n", algo.c_str(),
                rows.size(), failed, total, rows.empty() ? 0 : total / rows.size());
  }
  std::fflush(stdout);
  if (!args.csv.empty()) {
    std::ofstream(args.csv) << csv.str();
  }
  if (!args.plot.empty()) {
    absl::Status plotted = WritePlot(args, runs);
    if (!plotted.ok()) {
      std::cerr << "crosslink-bench orbit: plot: " << plotted << "\n";
      return 1;
    }
  }
  return wrong_total == 0 ? 0 : 1;
}

}  // namespace

bool IsOrbitMode(const std::vector<std::string>& args) {
  return !args.empty() && args[0] == "orbit";
}

int RunOrbitMode(const std::vector<std::string>& argv) {
  OrbitArgs args;
  if (std::optional<int> exit_code = Parse(argv, &args)) return *exit_code;
  if (std::getenv("RANK") == nullptr) return Launch(args);
  absl::Status status = RunRank(args);
  if (!status.ok()) {
    std::cerr << "crosslink-bench orbit rank " << std::getenv("RANK") << ": " << status << "\n";
    return 1;
  }
  return 0;
}

}  // namespace crosslink::bench
