// `crosslink-linkmodel summary` (usage in summary_command.h).
#include "summary_command.h"

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "crosslink/base/flags.h"
#include "crosslink/linkmodel/availability_plot.h"
#include "crosslink/linkmodel/contact_plan_summary.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/scenario_builder.h"
#include "crosslink/linkmodel/topology.h"

namespace crosslink::linkmodel::tools {
namespace {

constexpr char kUsage[] =
    "usage: crosslink-linkmodel summary --scenario FILE [--plot OUT.png] [--threads N]\n"
    "  Builds the scenario's predicted (geometry only) and true (geometry and faults) contact\n"
    "  plans and prints, for each, the link-time up, outages by cause, the longest outage and\n"
    "  contacts per link, plus the wall time of each build. --plot draws the true plan.\n";

int Fail(const absl::Status& status) {
  std::cerr << "crosslink-linkmodel summary: " << status << "\n";
  return 1;
}

const char* TypeName(ConstellationConfig::Type type) {
  switch (type) {
    case ConstellationConfig::Type::kWalkerDelta:
      return "walker-delta";
    case ConstellationConfig::Type::kTle:
      return "tle";
    case ConstellationConfig::Type::kFormation:
      return "formation";
  }
  return "?";
}

double SecondsSince(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

}  // namespace

int RunSummary(int argc, char** argv) {
  std::string scenario_path, plot;
  int threads = 0;
  base::FlagSet flags("crosslink-linkmodel summary", kUsage);
  flags.String("scenario", &scenario_path, "the scenario file").ValueName("FILE").Required();
  flags.String("plot", &plot, "draw the true plan's availability plot here").ValueName("OUT.png");
  flags.Int("threads", &threads, "threads building the plans (0: all hardware threads)").Min(0);
  if (std::optional<int> exit_code = flags.ParseMain(argc, argv)) return *exit_code;

  absl::StatusOr<Scenario> scenario = LoadScenario(scenario_path);
  if (!scenario.ok()) return Fail(scenario.status());

  absl::Time start = absl::Now();
  absl::StatusOr<Constellation> constellation = BuildConstellation(*scenario);
  if (!constellation.ok()) return Fail(constellation.status());
  const double constellation_s = SecondsSince(start);
  absl::StatusOr<std::vector<int>> ranks = ResolveRankSatellites(*scenario, *constellation);
  if (!ranks.ok()) return Fail(ranks.status());

  start = absl::Now();
  absl::StatusOr<ContactPlan> predicted =
      BuildScenarioPlan(*scenario, *constellation, /*include_faults=*/false, threads);
  if (!predicted.ok()) return Fail(predicted.status());
  const double predicted_s = SecondsSince(start);
  start = absl::Now();
  absl::StatusOr<ContactPlan> truth =
      BuildScenarioPlan(*scenario, *constellation, /*include_faults=*/true, threads);
  if (!truth.ok()) return Fail(truth.status());
  const double truth_s = SecondsSince(start);

  std::cout << absl::StrFormat(
      "Scenario %s (%s): %d satellites, %s topology, %.0f s window in %.3g s steps, start %s\n",
      scenario->name, TypeName(scenario->constellation.type),
      static_cast<int>(constellation->satellites.size()),
      std::string(TopologyName(scenario->links.topology)), scenario->time.duration_s,
      scenario->time.step_s,
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", scenario->time.start, absl::UTCTimeZone()));
  if (!ranks->empty()) {
    std::cout << "Ranks:";
    for (size_t r = 0; r < ranks->size(); ++r) {
      std::cout << " " << r << "=" << constellation->satellites[(*ranks)[r]].name;
    }
    std::cout << "\n";
  }
  std::cout << "\n"
            << FormatContactPlanSummary(SummarizeContactPlan(*predicted),
                                        "Predicted plan (geometry only, what the planner sees)")
            << "\n"
            << FormatContactPlanSummary(
                   SummarizeContactPlan(*truth),
                   "True plan (geometry and faults, what the emulator applies)")
            << "\n"
            << absl::StrFormat(
                   "Wall time: constellation %.3f s, predicted plan %.3f s, true plan %.3f s\n",
                   constellation_s, predicted_s, truth_s);

  if (!plot.empty()) {
    AvailabilityPlotOptions options;
    options.title = "Link availability, " + scenario->name;
    if (absl::Status s = WriteAvailabilityPlot(*truth, plot, options); !s.ok()) {
      return Fail(s);
    }
    std::cout << "Wrote " << plot << "\n";
  }
  return 0;
}

}  // namespace crosslink::linkmodel::tools
