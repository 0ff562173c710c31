// Scenario -> constellation -> contact plans.
#include "crosslink/linkmodel/scenario_builder.h"

#include <cctype>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/linkmodel/contact_plan_builder.h"
#include "crosslink/linkmodel/formation.h"
#include "crosslink/linkmodel/sgp4.h"
#include "crosslink/linkmodel/tle.h"
#include "crosslink/linkmodel/topology.h"
#include "crosslink/linkmodel/walker.h"

namespace crosslink::linkmodel {
namespace {

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The TLEs a scenario selects, in selection order.
absl::StatusOr<std::vector<Tle>> SelectTles(const TleSelection& selection) {
  ASSIGN_OR_RETURN(std::vector<Tle> all, LoadTleFile(selection.file));
  // Catalogue dumps sometimes repeat an object; its first element set wins.
  std::vector<Tle> unique;
  absl::flat_hash_set<int64_t> seen_ids;
  for (Tle& tle : all) {
    if (seen_ids.insert(tle.norad_id).second) unique.push_back(std::move(tle));
  }

  std::vector<Tle> chosen;
  if (selection.satellites.empty()) {
    chosen = std::move(unique);
  } else {
    absl::flat_hash_map<std::string, int> by_name;
    absl::flat_hash_map<int64_t, int> by_id;
    for (int i = 0; i < static_cast<int>(unique.size()); ++i) {
      by_name.emplace(unique[i].name, i);
      by_id.emplace(unique[i].norad_id, i);
    }
    std::set<int> taken;
    for (const std::string& wanted : selection.satellites) {
      int index = -1;
      if (auto it = by_name.find(wanted); it != by_name.end()) {
        index = it->second;
      } else if (int64_t id = 0; AllDigits(wanted) && absl::SimpleAtoi(wanted, &id)) {
        if (auto it_id = by_id.find(id); it_id != by_id.end()) index = it_id->second;
      }
      if (index < 0) {
        return absl::NotFoundError(absl::StrCat("scenario selects satellite \"", wanted,
                                                "\", which is not in ", selection.file.string()));
      }
      if (taken.insert(index).second) chosen.push_back(unique[index]);
    }
  }

  std::vector<Tle> selected;
  for (Tle& tle : chosen) {
    if (tle.inclination_deg < selection.inclination_min_deg ||
        tle.inclination_deg > selection.inclination_max_deg) {
      continue;
    }
    selected.push_back(std::move(tle));
    if (selection.first_n > 0 && static_cast<int>(selected.size()) == selection.first_n) break;
  }
  if (selected.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the TLE selection from ", selection.file.string(), " is empty (inclination band [",
        selection.inclination_min_deg, ", ", selection.inclination_max_deg, "] deg, ",
        selection.satellites.size(), " satellites named)"));
  }
  return selected;
}

absl::StatusOr<Constellation> BuildTleConstellation(const Scenario& scenario) {
  ASSIGN_OR_RETURN(std::vector<Tle> tles, SelectTles(scenario.constellation.tle));
  Constellation constellation;
  constellation.epoch = scenario.time.start;
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < static_cast<int>(tles.size()); ++i) {
    const Tle& tle = tles[i];
    Satellite sat;
    // Names must be unique: 2-line sets have none, and distinct objects can share one.
    sat.name = tle.name.empty() ? absl::StrCat(tle.norad_id) : tle.name;
    if (names.contains(sat.name)) sat.name = absl::StrCat(sat.name, " #", tle.norad_id);
    names.insert(sat.name);
    sat.norad_id = tle.norad_id;
    sat.slot = i;
    ASSIGN_OR_RETURN(sat.propagator, MakeSgp4Propagator(tle, scenario.time.start));
    constellation.satellites.push_back(std::move(sat));
  }
  RETURN_IF_ERROR(AssignOrbitPlanes(constellation, kTlePlaneToleranceDeg));
  return constellation;
}

}  // namespace

absl::StatusOr<Constellation> BuildConstellation(const Scenario& scenario) {
  switch (scenario.constellation.type) {
    case ConstellationConfig::Type::kWalkerDelta:
      return MakeWalkerDelta(scenario.constellation.walker, scenario.time.start);
    case ConstellationConfig::Type::kFormation:
      return MakeFormation(scenario.constellation.formations, scenario.time.start);
    case ConstellationConfig::Type::kTle:
      return BuildTleConstellation(scenario);
  }
  return absl::InvalidArgumentError("unknown constellation type");
}

absl::StatusOr<ContactPlan> BuildScenarioPlan(const Scenario& scenario,
                                              const Constellation& constellation,
                                              bool include_faults, int num_threads,
                                              absl::Time deadline) {
  return BuildContactPlan(constellation, scenario.time, scenario.links, scenario.faults,
                          include_faults, num_threads, deadline);
}

absl::StatusOr<ScenarioPlans> BuildScenarioPlans(const Scenario& scenario, int num_threads,
                                                 absl::Time deadline) {
  ScenarioPlans plans;
  ASSIGN_OR_RETURN(plans.constellation, BuildConstellation(scenario));
  ASSIGN_OR_RETURN(plans.predicted,
                   BuildScenarioPlan(scenario, plans.constellation,
                                     /*include_faults=*/false, num_threads, deadline));
  ASSIGN_OR_RETURN(plans.truth, BuildScenarioPlan(scenario, plans.constellation,
                                                  /*include_faults=*/true, num_threads, deadline));
  return plans;
}

absl::StatusOr<std::vector<int>> ResolveRankSatellites(const Scenario& scenario,
                                                       const Constellation& constellation) {
  std::vector<int> indices;
  std::set<int> taken;
  for (size_t rank = 0; rank < scenario.cluster.rank_satellites.size(); ++rank) {
    const std::string& name = scenario.cluster.rank_satellites[rank];
    std::optional<int> index = constellation.Find(name);
    if (!index.has_value() && AllDigits(name)) {
      int64_t id = 0;
      if (absl::SimpleAtoi(name, &id)) {
        for (size_t i = 0; i < constellation.satellites.size(); ++i) {
          if (constellation.satellites[i].norad_id == id) index = static_cast<int>(i);
        }
      }
    }
    if (!index.has_value()) {
      return absl::NotFoundError(absl::StrCat("scenario ", scenario.name, ": [cluster] rank ", rank,
                                              " names satellite \"", name,
                                              "\", which the constellation does not have"));
    }
    if (!taken.insert(*index).second) {
      return absl::InvalidArgumentError(absl::StrCat("scenario ", scenario.name,
                                                     ": [cluster] rank ", rank, " satellite \"",
                                                     name, "\" already hosts another rank"));
    }
    indices.push_back(*index);
  }
  return indices;
}

}  // namespace crosslink::linkmodel
