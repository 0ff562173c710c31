// crosslink-sim: collectives in virtual time over a scenario's contact plans (simulator.h), at
// any number of ranks, without sockets.
//
//   crosslink-sim allreduce --scenario FILE --ranks N --bytes S
//       [--algo ring|tree|auto|contact-aware|naive-ring] [--start-s T] [--iters K] [--csv OUT]
//       [--reduce-rate-Bps R] [--deadline-s D] [--segment-bytes B] [--explain]
//
// Algorithms: ring, tree and auto are the rank-order planners of allreduce.h (auto by the cost
// model with the scenario's link rate and 5 ms latency); naive-ring is the plain ring in rank
// order, which waits for every link it meets down as NCCL or Gloo would; contact-aware is
// contact_aware_planner.h planning from the PREDICTED plan. Every plan is then simulated over the
// TRUE plan (faults included). Iteration k+1 starts when iteration k ends (back to back), so the
// iterations walk along the orbit; each one is replanned at its own start time.
//
// Rank placement: rank i < |[cluster]| runs on the cluster's i-th satellite. Ranks beyond the
// cluster list are spread evenly over the constellation by satellite index: rank i goes on
// satellite floor(i * S / N) (S satellites, N ranks), or the next free index when that one is
// taken. In a Walker shell, index = plane * sats_per_plane + slot, so consecutive ranks sit a slot
// or two apart in one plane.
//
// Output: one line per iteration: completion time, the oracle's time (the best of the
// contact-aware ring and tree planned from the truth and the naive ring, simulated over the
// truth), their ratio, the outages met, and the wall time planning and simulating took.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/lib/wire_compression_flag.h"
#include "crosslink/base/flags.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/compression/wire_codec.h"
#include "crosslink/collectives/contact_aware_planner.h"
#include "crosslink/collectives/planning/plan_choice.h"
#include "crosslink/collectives/simulator.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/scenario_builder.h"

namespace crosslink {
namespace {

using collectives::AllreduceAlgorithm;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Args {
  std::string scenario;
  int ranks = 8;
  int64_t bytes = 64 << 20;
  std::string algo = "contact-aware";
  double start_s = 0;
  int iters = 1;
  std::string csv;
  double reduce_rate_Bps = collectives::SimulatorOptions{}.reduce_rate_Bps;
  double deadline_s = collectives::SimulatorOptions{}.deadline_s;
  int64_t segment_bytes = 512 << 10;
  bool explain = false;
  // --compress: the simulated plan's wire compression (the oracle stays uncompressed).
  collectives::WireCompression compress = collectives::WireCompression::kNone;
};

constexpr char kUsage[] =
    "usage: crosslink-sim allreduce --scenario FILE --ranks N --bytes S\n"
    "         [--algo ring|tree|auto|contact-aware|naive-ring] [--start-s T] [--iters K]\n"
    "         [--csv OUT] [--reduce-rate-Bps R] [--deadline-s D] [--segment-bytes B] "
    "[--explain]\n"
    "         [--compress none|bf16|int8] (messages sized as compressed; the oracle is not)\n";

// The allreduce command's flags, writing into *a.
void DeclareFlags(base::FlagSet& flags, Args* a) {
  flags.String("scenario", &a->scenario, "the scenario file").ValueName("FILE").Required();
  flags.Int("ranks", &a->ranks, "ranks (the cluster's satellites first)").Min(1);
  flags.ByteSize("bytes", &a->bytes, "allreduce size (K, M, G: powers of 1024)");
  flags.Choice("algo", &a->algo, {"ring", "tree", "auto", "contact-aware", "naive-ring"},
               "the planner");
  flags.Double("start-s", &a->start_s, "orbit time of the first iteration").Min(0).ValueName("T");
  flags.Int("iters", &a->iters, "iterations, back to back").Min(1);
  flags.String("csv", &a->csv, "write the iterations as CSV here").ValueName("OUT");
  flags.Double("reduce-rate-Bps", &a->reduce_rate_Bps, "bytes per second a rank reduces")
      .Above(0)
      .ValueName("R");
  flags.Double("deadline-s", &a->deadline_s, "orbit seconds a transfer may wait").Above(0);
  flags.Int64("segment-bytes", &a->segment_bytes, "largest segment a plan sends").Min(1);
  flags.Switch("explain", &a->explain, "print the plan's choices");
  bench::WireCompressionFlag(flags, &a->compress,
                             "size messages as compressed (the oracle's stay uncompressed)");
}

// The cluster's satellites, then the extra ranks spread by index (see the header comment).
absl::StatusOr<std::vector<int>> PlaceRanks(const linkmodel::Scenario& scenario,
                                            const linkmodel::Constellation& constellation,
                                            int num_satellites, int ranks) {
  if (ranks > num_satellites) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--ranks %d: the constellation has only %d satellites (one rank per satellite)", ranks,
        num_satellites));
  }
  ASSIGN_OR_RETURN(std::vector<int> sats,
                   linkmodel::ResolveRankSatellites(scenario, constellation));
  if (static_cast<int>(sats.size()) > ranks) sats.resize(ranks);
  absl::flat_hash_set<int> used(sats.begin(), sats.end());
  for (int i = static_cast<int>(sats.size()); i < ranks; ++i) {
    int s = static_cast<int>(static_cast<long long>(i) * num_satellites / ranks);
    while (used.contains(s)) s = (s + 1) % num_satellites;
    used.insert(s);
    sats.push_back(s);
  }
  return sats;
}

absl::StatusOr<collectives::Plan> MakePlan(const Args& a, const linkmodel::ContactPlan& predicted,
                                           const std::vector<int>& sats, double t_s, size_t count,
                                           std::string& explanation) {
  collectives::ContactAwareOptions options;
  options.max_segment_bytes = a.segment_bytes;
  if (a.algo == "contact-aware") {
    ASSIGN_OR_RETURN(collectives::ContactAwareChoice choice,
                     collectives::PlanContactAwareAllreduce(predicted, sats, t_s, count, options));
    explanation = std::move(choice.explanation);
    return std::move(choice.plan);
  }
  if (a.algo == "naive-ring") return collectives::PlanNaiveRing(a.ranks, count, options);
  collectives::CollectiveOptions ar;
  ar.max_segment_bytes = a.segment_bytes;
  ar.algorithm = a.algo == "ring"   ? AllreduceAlgorithm::kRing
                 : a.algo == "tree" ? AllreduceAlgorithm::kTree
                                    : AllreduceAlgorithm::kAuto;
  collectives::LinkCostHints hints;
  hints.rate_bps = predicted.physics().rate_bps;
  return collectives::PlanCollective(collectives::ResolveAlgorithm(
      collectives::MakeCollectiveSpec(collectives::CollectiveKind::kAllreduce, a.ranks, count,
                                      collectives::DataType::kFloat32, collectives::ReduceOp::kSum,
                                      0, ar),
      hints));
}

absl::Status Run(const Args& a) {
  ASSIGN_OR_RETURN(linkmodel::Scenario scenario, linkmodel::LoadScenario(a.scenario));
  Clock::time_point t0 = Clock::now();
  ASSIGN_OR_RETURN(linkmodel::ScenarioPlans plans, linkmodel::BuildScenarioPlans(scenario));
  const double build_wall_s = SecondsSince(t0);
  const int num_sats = plans.predicted.num_satellites();
  ASSIGN_OR_RETURN(std::vector<int> sats,
                   PlaceRanks(scenario, plans.constellation, num_sats, a.ranks));
  const size_t count = a.bytes / collectives::DataTypeSize(collectives::DataType::kFloat32);
  std::printf(
      "# scenario %s: %d satellites, %zu candidate links, window %.0f s; contact plans "
      "built in %.2f s wall\n",
      scenario.name.c_str(), num_sats, plans.predicted.links().size(), plans.predicted.duration_s(),
      build_wall_s);
  std::printf(
      "# allreduce of %zu bytes (%zu float32) over %d ranks, algo %s, compression %s, reduce "
      "%.3g B/s, deadline %.0f s\n",
      count * 4, count, a.ranks, a.algo.c_str(), collectives::WireCompressionName(a.compress),
      a.reduce_rate_Bps, a.deadline_s);
  std::printf("# %4s %10s %14s %14s %8s %-20s %7s %10s %10s %10s\n", "iter", "start_s", "time_s",
              "oracle_s", "ratio", "oracle_best", "outages", "plan_wall", "sim_wall", "orcl_wall");

  std::ofstream csv;
  if (!a.csv.empty()) {
    csv.open(a.csv);
    if (!csv) return absl::PermissionDeniedError("cannot write --csv file " + a.csv);
    csv << "scenario,ranks,bytes,algo,iter,start_s,time_s,oracle_s,ratio,oracle_best,outages,"
           "status,plan_wall_s,sim_wall_s,oracle_wall_s\n";
  }
  collectives::SimulatorOptions sim_options;
  sim_options.reduce_rate_Bps = a.reduce_rate_Bps;
  sim_options.deadline_s = a.deadline_s;
  collectives::ContactAwareOptions oracle_planner;
  oracle_planner.max_segment_bytes = a.segment_bytes;
  double t_s = a.start_s;
  for (int k = 0; k < a.iters; ++k) {
    std::string explanation;
    t0 = Clock::now();
    ASSIGN_OR_RETURN(collectives::Plan plan,
                     MakePlan(a, plans.predicted, sats, t_s, count, explanation));
    plan.compression = a.compress;  // a float32 allreduce: the simulator sizes messages by it
    const double plan_wall_s = SecondsSince(t0);
    t0 = Clock::now();
    absl::StatusOr<collectives::SimulationResult> sim =
        collectives::SimulatePlan(plan, plans.truth, sats, t_s, sim_options);
    const double sim_wall_s = SecondsSince(t0);
    if (!sim.ok() && sim.status().code() != absl::StatusCode::kDeadlineExceeded) {
      return sim.status();
    }
    t0 = Clock::now();
    absl::StatusOr<collectives::OracleResult> oracle =
        collectives::SimulateOracle(plans.truth, sats, t_s, count, oracle_planner, sim_options);
    const double oracle_wall_s = SecondsSince(t0);
    const double inf = std::numeric_limits<double>::infinity();
    const double time_s = sim.ok() ? sim->completion_s : inf;
    const double oracle_s = oracle.ok() ? oracle->completion_s : inf;
    const std::string best = oracle.ok() ? oracle->best : "none";
    const int outages = sim.ok() ? sim->outages_met : -1;
    std::printf("  %4d %10.3f %14.6f %14.6f %8.3f %-20s %7d %9.3fs %9.3fs %9.3fs\n", k, t_s, time_s,
                oracle_s, time_s / oracle_s, best.c_str(), outages, plan_wall_s, sim_wall_s,
                oracle_wall_s);
    if (!sim.ok()) std::printf("    %s\n", std::string(sim.status().message()).c_str());
    if (a.explain && !explanation.empty()) std::printf("%s", explanation.c_str());
    if (a.explain && sim.ok()) {
      double busiest = 0, busy_sum = 0;
      for (const collectives::ChannelStats& c : sim->channels) {
        busiest = std::max(busiest, c.busy_s);
        busy_sum += c.busy_s;
      }
      std::printf(
          "    %zu channels, %llu messages, %llu bytes; link busy time mean %.6f s, max "
          "%.6f s\n",
          sim->channels.size(), static_cast<unsigned long long>(sim->messages),
          static_cast<unsigned long long>(sim->bytes_sent),
          sim->channels.empty() ? 0.0 : busy_sum / sim->channels.size(), busiest);
    }
    if (csv) {
      csv << absl::StrFormat("%s,%d,%d,%s,%d,%.6f,%.9f,%.9f,%.6f,%s,%d,%s,%.6f,%.6f,%.6f\n",
                             scenario.name, a.ranks, count * 4, a.algo, k, t_s, time_s, oracle_s,
                             time_s / oracle_s, best, outages,
                             sim.ok() ? "ok" : absl::StatusCodeToString(sim.status().code()),
                             plan_wall_s, sim_wall_s, oracle_wall_s);
    }
    t_s += sim.ok() ? time_s : a.deadline_s;
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace crosslink

int main(int argc, char** argv) {
  crosslink::base::FlagSet flags("crosslink-sim allreduce", crosslink::kUsage);
  crosslink::Args args;
  crosslink::DeclareFlags(flags, &args);
  if (argc < 2 || std::string(argv[1]) != "allreduce") {
    if (argc >= 2 && crosslink::base::IsHelpArgument(argv[1])) {
      std::cout << flags.Help();
      return 0;
    }
    std::cerr << flags.UsageError("expected the command 'allreduce'");
    return 2;
  }
  if (std::optional<int> exit_code = flags.ParseMain(argc, argv, 2)) return *exit_code;
  absl::Status s = crosslink::Run(args);
  if (!s.ok()) {
    std::fprintf(stderr, "crosslink-sim: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
