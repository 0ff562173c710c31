// Formation clusters in the manner of Google's Suncatcher study: tens of satellites flying a few
// hundred metres apart inside a kilometre-wide cluster around one circular reference orbit
// (650 km, sun-synchronous, dawn-dusk by default, so the panels see the Sun nearly all the time).
//
// Each satellite follows a bounded Clohessy-Wiltshire (Hill) relative orbit with no along-track
// drift, of the "general circular orbit" family:
//   radial x = rho/2 cos(n t + alpha), along-track y = -rho sin(n t + alpha),
//   cross-track z = (sqrt(3)/2) rho cos(n t + alpha),
// whose distance from the reference is exactly rho at all times. All satellites share n, so the
// cluster turns as a rigid disc once per orbit: the layout (a hexagonal lattice of points (rho,
// alpha) filling a disc of radius_km) keeps every spacing and never leaves the radius.
// The position is the reference orbit's J2 state plus this offset rotated from the local frame
// (radial, along-track, cross-track) into the inertial frame.
#ifndef CROSSLINK_LINKMODEL_FORMATION_H_
#define CROSSLINK_LINKMODEL_FORMATION_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/linkmodel/constellation.h"
#include "crosslink/linkmodel/kepler_j2.h"
#include "crosslink/linkmodel/scenario.h"

namespace crosslink::linkmodel {

// The reference orbit of a cluster: the config's values, with the sun-synchronous inclination
// when inclination_deg is NaN and the dawn-dusk RAAN (orbit normal towards the Sun at the epoch)
// when raan_deg is NaN, plus raan_offset_deg. kInvalidArgument naming the key for bad values.
absl::StatusOr<CircularOrbit> FormationReferenceOrbit(const FormationConfig& config,
                                                      absl::Time epoch);

// Satellites of the clusters, named C<cluster>S<index>, plane = cluster index, slot = index.
// Index 0 of each cluster sits on the reference orbit (rho = 0). kInvalidArgument naming the
// cluster and key (formation[1].count, ...) when a value is out of range, or when the counts add
// up to more than kMaxSatellites. Thread-safe.
absl::StatusOr<Constellation> MakeFormation(const std::vector<FormationConfig>& clusters,
                                            absl::Time epoch);

// One member of a cluster: the reference state plus the CW offset (rho_km, phase alpha_rad).
class FormationPropagator final : public Propagator {
 public:
  FormationPropagator(std::shared_ptr<const KeplerJ2Propagator> reference, double rho_km,
                      double alpha_rad);
  absl::StatusOr<StateVector> StateAt(double t_s) const override;

  double rho_km() const { return rho_km_; }

 private:
  std::shared_ptr<const KeplerJ2Propagator> reference_;
  double rho_km_;
  double alpha_rad_;
  double n_rad_s_;  // the reference's argument-of-latitude rate, so the disc turns with the orbit
};

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_FORMATION_H_
