// crosslink-contact-plan-bench: how long building a contact plan takes. Default case: the
// Starlink-like 72 x 22 Walker delta shell (550 km, 53 deg, F = 39) with the plus-grid, polar
// cut-off 70 deg, sun exclusion 5 deg and 10 s acquisition, over one orbit (5,730 s) at 1 s
// steps: 1,584 satellites, 3,168 links, 18 million link evaluations.
//
// Usage: crosslink-contact-plan-bench [--scenario FILE] [--truth] [--threads N] [--step_s S]
//                                     [--duration_s D] [--steps N] [--repeat R]
// --scenario builds that scenario's constellation and plan instead of the built-in shell (its time,
// links and faults; --step_s/--duration_s/--steps override its [time] when given); --truth builds
// the true plan (faults included) rather than the predicted one. --steps N sets the duration to N
// steps. Prints one line per run and a final summary line; with a scenario also the time taken to
// build the constellation (TLE parsing and SGP4 initialisation).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "crosslink/base/flags.h"
#include "crosslink/linkmodel/contact_plan.h"
#include "crosslink/linkmodel/contact_plan_builder.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/scenario_builder.h"

namespace {

using crosslink::linkmodel::ContactPlan;
using crosslink::linkmodel::LinkState;

struct Options {
  std::string scenario;
  bool truth = false;
  int threads = 0;
  double step_s = 0.0;      // 0: the scenario's, or 1 s for the built-in shell
  double duration_s = 0.0;  // 0: the scenario's, or one orbit (5,730 s)
  int64_t steps = 0;
  int repeat = 1;
};

constexpr char kUsage[] =
    "usage: crosslink-contact-plan-bench [--scenario FILE] [--truth] [--threads N] [--step_s S]\n"
    "                                    [--duration_s D] [--steps N] [--repeat R]\n"
    "Builds the 72x22 plus-grid contact plan (or the scenario's) and reports the wall time.\n";

// Parses argv into *o; nullopt to carry on, else the exit code.
std::optional<int> Parse(int argc, char** argv, Options* o) {
  crosslink::base::FlagSet flags("crosslink-contact-plan-bench", kUsage);
  flags.String("scenario", &o->scenario, "build this scenario instead of the built-in shell")
      .ValueName("FILE");
  flags.Switch("truth", &o->truth, "build the true plan (faults included), not the predicted");
  flags.Int("threads", &o->threads, "threads (0: all hardware threads)").Min(0);
  flags.Double("step_s", &o->step_s, "time step (0: the scenario's, or 1 s)").Min(0).ValueName("S");
  flags.Double("duration_s", &o->duration_s, "time window (0: the scenario's, or one orbit)")
      .Min(0)
      .ValueName("D");
  flags.Int64("steps", &o->steps, "set the window to N steps instead").Min(0).DefaultText("");
  flags.Int("repeat", &o->repeat, "runs").Min(1).ValueName("R");
  if (std::optional<int> exit_code = flags.ParseMain(argc, argv)) return exit_code;
  if (o->steps > 0) o->duration_s = o->steps * (o->step_s > 0 ? o->step_s : 1.0);
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (std::optional<int> exit_code = Parse(argc, argv, &options)) return *exit_code;
  // The built-in case: the 72 x 22 shell (WalkerConfig's defaults: F 39, 550 km, 53 deg).
  crosslink::linkmodel::Scenario scenario;
  scenario.name = "walker 72x22 plus-grid";
  scenario.links.topology = crosslink::linkmodel::Topology::kPlusGrid;
  scenario.links.polar_cutoff_deg = 70.0;
  scenario.links.sun_exclusion_deg = 5.0;
  scenario.links.acquisition_s = 10.0;
  if (!options.scenario.empty()) {
    absl::StatusOr<crosslink::linkmodel::Scenario> loaded =
        crosslink::linkmodel::LoadScenario(options.scenario);
    if (!loaded.ok()) {
      std::fprintf(stderr, "crosslink-contact-plan-bench: %s\n",
                   loaded.status().ToString().c_str());
      return 1;
    }
    scenario = *std::move(loaded);
  }
  if (options.step_s > 0) scenario.time.step_s = options.step_s;
  if (options.duration_s > 0) scenario.time.duration_s = options.duration_s;
  const crosslink::linkmodel::TimeConfig& time = scenario.time;

  const absl::Time c0 = absl::Now();
  absl::StatusOr<crosslink::linkmodel::Constellation> constellation =
      crosslink::linkmodel::BuildConstellation(scenario);
  const double constellation_wall_s = absl::ToDoubleSeconds(absl::Now() - c0);
  if (!constellation.ok()) {
    std::fprintf(stderr, "crosslink-contact-plan-bench: %s\n",
                 constellation.status().ToString().c_str());
    return 1;
  }
  std::printf("constellation: %zu satellites built in %.3f s\n", constellation->satellites.size(),
              constellation_wall_s);
  const int threads = options.threads;
  std::vector<double> wall_s;
  for (int r = 0; r < options.repeat; ++r) {
    const absl::Time t0 = absl::Now();
    absl::StatusOr<ContactPlan> plan = crosslink::linkmodel::BuildContactPlan(
        *constellation, time, scenario.links, scenario.faults, options.truth, threads);
    const double wall = absl::ToDoubleSeconds(absl::Now() - t0);
    if (!plan.ok()) {
      std::fprintf(stderr, "crosslink-contact-plan-bench: %s\n", plan.status().ToString().c_str());
      return 1;
    }
    wall_s.push_back(wall);
    double up_s = 0.0;
    size_t segments = 0;
    double by_state[crosslink::linkmodel::kNumLinkStates] = {};
    for (const auto& link : plan->links()) {
      segments += link.segments.size();
      for (const auto& s : link.segments) {
        by_state[static_cast<int>(s.state)] += s.end_s - s.start_s;
      }
    }
    up_s = by_state[static_cast<int>(LinkState::kUp)];
    const double total_s = plan->duration_s() * static_cast<double>(plan->links().size());
    std::printf(
        "run %d: %d satellites, %zu links, %.0f s at %g s steps, %zu segments, up %.4f "
        "(occluded %.4f range %.4f polar %.4f sun %.4f acquiring %.4f), wall %.3f s\n",
        r, plan->num_satellites(), plan->links().size(), plan->duration_s(), time.step_s, segments,
        up_s / total_s, by_state[static_cast<int>(LinkState::kOccluded)] / total_s,
        by_state[static_cast<int>(LinkState::kRange)] / total_s,
        by_state[static_cast<int>(LinkState::kPolar)] / total_s,
        by_state[static_cast<int>(LinkState::kSun)] / total_s,
        by_state[static_cast<int>(LinkState::kAcquiring)] / total_s, wall);
  }
  const double best = *std::min_element(wall_s.begin(), wall_s.end());
  std::printf(
      "RESULT contact-plan-bench %s (%s plan): threads %s, best wall %.3f s over %d run(s)\n",
      scenario.name.c_str(), options.truth ? "true" : "predicted",
      threads > 0 ? std::to_string(threads).c_str() : "hardware", best, options.repeat);
  return 0;
}
