// Propagator: where one satellite is at a given orbit time. Every orbit model (SGP4 for TLEs,
// circular Keplerian with J2 for generated shells, relative motion for formations) hides behind
// this interface so crosslink geometry never knows which one it is evaluating.
#ifndef CROSSLINK_LINKMODEL_PROPAGATOR_H_
#define CROSSLINK_LINKMODEL_PROPAGATOR_H_

#include "absl/status/statusor.h"
#include "crosslink/linkmodel/vec3.h"

namespace crosslink::linkmodel {

// Position (km) and velocity (km/s) in an Earth-centred inertial frame: TEME for SGP4, the mean
// equator and equinox of the epoch for generated orbits. The difference (arc-seconds) does not
// matter for link geometry, which uses only relative positions, the Earth's radius, latitude and
// the Sun's direction.
struct StateVector {
  Vec3 position_km;
  Vec3 velocity_km_s;
};

class Propagator {
 public:
  virtual ~Propagator() = default;
  // State at t_s seconds since the scenario epoch (negative is allowed). Thread-safe: const and
  // free of hidden caches, so a contact plan can be built from several threads. Returns
  // kOutOfRange when the model cannot give a state at that time (SGP4's decayed or invalid
  // orbit), with the satellite and time in the message.
  virtual absl::StatusOr<StateVector> StateAt(double t_s) const = 0;
};

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_PROPAGATOR_H_
