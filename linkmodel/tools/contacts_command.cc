// `crosslink-linkmodel contacts` (usage in contacts_command.h).
#include "contacts_command.h"

#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "command_flags.h"
#include "crosslink/linkmodel/availability_plot.h"
#include "crosslink/linkmodel/contact_plan_csv.h"
#include "crosslink/linkmodel/ion_contact_plan.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/scenario_builder.h"

namespace crosslink::linkmodel::tools {
namespace {

constexpr char kUsage[] =
    "usage: crosslink-linkmodel contacts --scenario FILE --csv OUT [--ion OUT] [--plot OUT.png]\n"
    "                                    [--outages OUT] [--predicted] [--threads N]\n"
    "  Builds the scenario's true contact plan (geometry and faults; --predicted: geometry only)\n"
    "  and writes one CSV row per up-interval (--csv), the ION-DTN contact plan (--ion), the\n"
    "  down segments with their cause (--outages) and the availability plot (--plot).\n";

int Fail(const absl::Status& status) {
  std::cerr << "crosslink-linkmodel contacts: " << status << "\n";
  return 1;
}

}  // namespace

int RunContacts(int argc, char** argv) {
  const ParsedFlags flags = ParseFlags(
      argc, argv, 1, {"scenario", "csv", "ion", "plot", "outages", "threads"}, {"predicted"});
  if (flags.help) {
    std::cout << kUsage;
    return 0;
  }
  if (flags.error.empty() && (!flags.Has("scenario") || !flags.Has("csv"))) {
    std::cerr << "crosslink-linkmodel contacts: --scenario and --csv are required\n" << kUsage;
    return 2;
  }
  if (!flags.error.empty()) {
    std::cerr << "crosslink-linkmodel contacts: " << flags.error << "\n" << kUsage;
    return 2;
  }
  int threads = 0;
  if (flags.Has("threads") && (!absl::SimpleAtoi(flags.Get("threads"), &threads) || threads < 0)) {
    std::cerr << "crosslink-linkmodel contacts: --threads must be a count >= 0\n";
    return 2;
  }
  const bool predicted = flags.switches.contains("predicted");

  absl::StatusOr<Scenario> scenario = LoadScenario(flags.Get("scenario"));
  if (!scenario.ok()) return Fail(scenario.status());
  const absl::Time start = absl::Now();
  absl::StatusOr<Constellation> constellation = BuildConstellation(*scenario);
  if (!constellation.ok()) return Fail(constellation.status());
  absl::StatusOr<ContactPlan> plan =
      BuildScenarioPlan(*scenario, *constellation, /*include_faults=*/!predicted, threads);
  if (!plan.ok()) return Fail(plan.status());
  const double build_s = absl::ToDoubleSeconds(absl::Now() - start);

  std::cout << "scenario " << scenario->name << ": " << plan->num_satellites() << " satellites, "
            << plan->links().size() << " candidate links, " << (predicted ? "predicted" : "true")
            << " plan built in " << build_s << " s\n";
  if (absl::Status s = WriteContactPlanCsv(*plan, flags.Get("csv")); !s.ok()) return Fail(s);
  std::cout << "wrote " << flags.Get("csv") << " (" << plan->Contacts().size() << " contacts)\n";
  if (flags.Has("ion")) {
    if (absl::Status s = WriteIonContactPlan(*plan, flags.Get("ion")); !s.ok()) return Fail(s);
    std::cout << "wrote " << flags.Get("ion") << " (ION-DTN contact plan)\n";
  }
  if (flags.Has("outages")) {
    if (absl::Status s = WriteOutageCsv(*plan, flags.Get("outages")); !s.ok()) return Fail(s);
    std::cout << "wrote " << flags.Get("outages") << " (outages with cause)\n";
  }
  if (flags.Has("plot")) {
    AvailabilityPlotOptions options;
    options.title = "Link availability, " + scenario->name;
    if (absl::Status s = WriteAvailabilityPlot(*plan, flags.Get("plot"), options); !s.ok()) {
      return Fail(s);
    }
    std::cout << "wrote " << flags.Get("plot") << " (availability plot)\n";
  }
  return 0;
}

}  // namespace crosslink::linkmodel::tools
