// Sgp4Propagator: scenario time (seconds since the scenario epoch) to SGP4 time (minutes since the
// TLE epoch).
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/linkmodel/sgp4.h"

namespace crosslink::linkmodel {

Sgp4Propagator::Sgp4Propagator(Sgp4 sgp4, absl::Time scenario_epoch)
    : sgp4_(std::move(sgp4)), offset_min_(absl::ToDoubleMinutes(scenario_epoch - sgp4_.epoch())) {}

absl::StatusOr<StateVector> Sgp4Propagator::StateAt(double t_s) const {
  absl::StatusOr<StateVector> state = sgp4_.Propagate(offset_min_ + t_s / 60.0);
  if (!state.ok()) {
    return absl::Status(state.status().code(),
                        absl::StrFormat("at t_s = %.3f s after the scenario epoch: %s", t_s,
                                        state.status().message()));
  }
  return state;
}

absl::StatusOr<std::shared_ptr<const Propagator>> MakeSgp4Propagator(const Tle& tle,
                                                                     absl::Time scenario_epoch,
                                                                     const Sgp4Options& options) {
  absl::StatusOr<Sgp4> sgp4 = Sgp4::Create(tle, options);
  if (!sgp4.ok()) {
    return absl::Status(sgp4.status().code(),
                        absl::StrCat("TLE '", tle.name, "': ", sgp4.status().message()));
  }
  return std::shared_ptr<const Propagator>(
      std::make_shared<const Sgp4Propagator>(*std::move(sgp4), scenario_epoch));
}

}  // namespace crosslink::linkmodel
