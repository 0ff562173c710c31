// `crosslink-linkmodel contacts` (usage in contacts_command.h).
#include "contacts_command.h"

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "crosslink/base/flags.h"
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
  std::string scenario_path, csv, ion, plot, outages;
  int threads = 0;
  bool predicted = false;
  base::FlagSet flags("crosslink-linkmodel contacts", kUsage);
  flags.String("scenario", &scenario_path, "the scenario file").ValueName("FILE").Required();
  flags.String("csv", &csv, "write one CSV row per up-interval here").ValueName("OUT").Required();
  flags.String("ion", &ion, "write the ION-DTN contact plan here").ValueName("OUT");
  flags.String("plot", &plot, "draw the availability plot here").ValueName("OUT.png");
  flags.String("outages", &outages, "write the down segments with their cause here")
      .ValueName("OUT");
  flags.Switch("predicted", &predicted, "the predicted plan (geometry only), not the true one");
  flags.Int("threads", &threads, "threads building the plan (0: all hardware threads)").Min(0);
  if (std::optional<int> exit_code = flags.ParseMain(argc, argv)) return *exit_code;

  absl::StatusOr<Scenario> scenario = LoadScenario(scenario_path);
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
  if (absl::Status s = WriteContactPlanCsv(*plan, csv); !s.ok()) return Fail(s);
  std::cout << "wrote " << csv << " (" << plan->Contacts().size() << " contacts)\n";
  if (!ion.empty()) {
    if (absl::Status s = WriteIonContactPlan(*plan, ion); !s.ok()) return Fail(s);
    std::cout << "wrote " << ion << " (ION-DTN contact plan)\n";
  }
  if (!outages.empty()) {
    if (absl::Status s = WriteOutageCsv(*plan, outages); !s.ok()) return Fail(s);
    std::cout << "wrote " << outages << " (outages with cause)\n";
  }
  if (!plot.empty()) {
    AvailabilityPlotOptions options;
    options.title = "Link availability, " + scenario->name;
    if (absl::Status s = WriteAvailabilityPlot(*plan, plot, options); !s.ok()) {
      return Fail(s);
    }
    std::cout << "wrote " << plot << " (availability plot)\n";
  }
  return 0;
}

}  // namespace crosslink::linkmodel::tools
