// SGP4/SDP4: the orbit model TLEs are made for. A faithful rewrite of the reference
// implementation of Vallado, Crawford, Hujsak and Kelso, "Revisiting Spacetrack Report #3"
// (AIAA 2006-6753, sgp4unit.cpp as revised through 2020), with the WGS-72 constants the element
// sets are fitted with. It reproduces Vallado's verification output (tcppver.out) to well under a
// millimetre; tests/linkmodel/sgp4_test.cc checks every line of it.
//
// Frame and units: TEME (true equator, mean equinox of the TLE epoch), km and km/s.
//
// Thread-safety: an Sgp4 is immutable after Create; Propagate is const, keeps no cache and may be
// called from any number of threads at once. Vallado's deep-space resonance integrator keeps its
// last state between calls to save work; this one restarts from the epoch each call, which gives
// the same numbers (the 720-minute steps are the same floating-point operations either way) at a
// cost of |tsince| / 720 steps for the few resonant orbits (12-hour and geosynchronous).
// Copying an Sgp4 is cheap: deep-space coefficients are shared, immutable.
#ifndef CROSSLINK_LINKMODEL_SGP4_H_
#define CROSSLINK_LINKMODEL_SGP4_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/linkmodel/propagator.h"
#include "crosslink/linkmodel/tle.h"

namespace crosslink::linkmodel {

namespace sgp4_internal {
struct DeepSpace;
}  // namespace sgp4_internal

// Vallado's operation modes. They differ in two places only, both deep-space: how the Greenwich
// sidereal angle at epoch is computed (AFSPC's 1970-based polynomial vs the IAU-82 gstime), and a
// quadrant fix of the node in the Lyddane branch of the lunar-solar periodics. The verification
// output tcppver.out was made in improved mode.
enum class Sgp4OpsMode { kImproved, kAfspc };

struct Sgp4Options {
  Sgp4OpsMode ops_mode = Sgp4OpsMode::kImproved;
};

class Sgp4 {
 public:
  // Initialises the model from an element set (Vallado's sgp4init). kInvalidArgument when the
  // elements cannot describe an orbit (eccentricity outside [0, 1), mean motion not positive).
  // An element set that initialises but fails at its epoch (e.g. a decayed object) is accepted
  // here; Propagate reports the failure, as the reference driver does.
  static absl::StatusOr<Sgp4> Create(const Tle& tle, const Sgp4Options& options = {});

  // Position and velocity at `tsince_min` minutes after the TLE epoch (negative allowed), TEME,
  // km and km/s. kOutOfRange when SGP4 cannot give a state there, with the satellite number, the
  // time and Vallado's error code and reason in the message: 1 mean eccentricity outside
  // [-0.001, 1), 2 mean motion not positive, 3 perturbed eccentricity outside [0, 1], 4 semi-latus
  // rectum negative, 6 orbit radius below the Earth's surface (decayed). (Code 5, sub-orbital
  // epoch elements, was withdrawn by Vallado in favour of code 6 and is never returned.)
  // A few hundred nanoseconds for a near-Earth satellite; const and thread-safe.
  absl::StatusOr<StateVector> Propagate(double tsince_min) const;

  int64_t norad_id() const { return norad_id_; }
  // The TLE epoch: Propagate's time origin.
  absl::Time epoch() const { return epoch_; }
  // True for SDP4 (orbital period of 225 minutes or more): lunar-solar terms apply.
  bool deep_space() const { return deep_ != nullptr; }
  // Mean motion after removing the Kozai correction, rad/min (Vallado's no_unkozai).
  double mean_motion_rad_per_min() const { return no_unkozai_; }

 private:
  Sgp4() = default;

  int64_t norad_id_ = 0;
  absl::Time epoch_;
  // Elements at epoch, radians and rad/min.
  double bstar_ = 0, ecco_ = 0, argpo_ = 0, inclo_ = 0, mo_ = 0, nodeo_ = 0, no_unkozai_ = 0;
  // Secular rates and drag coefficients (names as in Vallado's elsetrec, so the code can be read
  // against the paper).
  bool isimp_ = false;
  double mdot_ = 0, argpdot_ = 0, nodedot_ = 0, nodecf_ = 0;
  double cc1_ = 0, cc4_ = 0, cc5_ = 0, d2_ = 0, d3_ = 0, d4_ = 0;
  double t2cof_ = 0, t3cof_ = 0, t4cof_ = 0, t5cof_ = 0;
  double omgcof_ = 0, xmcof_ = 0, eta_ = 0, delmo_ = 0, sinmao_ = 0;
  double aycof_ = 0, xlcof_ = 0, con41_ = 0, x1mth2_ = 0, x7thm1_ = 0;
  // pow(xke / no_unkozai, 2/3): the near-Earth semi-major axis before drag, computed once.
  double a_no_drag_ = 0;
  double sinio_ = 0, cosio_ = 0;
  std::shared_ptr<const sgp4_internal::DeepSpace> deep_;
};

// The Propagator of a TLE satellite: t_s seconds since the scenario epoch become minutes since the
// TLE epoch. Immutable; StateAt is thread-safe. Errors as Sgp4::Propagate (kOutOfRange), with the
// scenario time added to the message.
class Sgp4Propagator final : public Propagator {
 public:
  Sgp4Propagator(Sgp4 sgp4, absl::Time scenario_epoch);
  absl::StatusOr<StateVector> StateAt(double t_s) const override;

  const Sgp4& sgp4() const { return sgp4_; }
  // Minutes from the TLE epoch to the scenario epoch (tsince at t_s = 0).
  double tsince_at_scenario_epoch_min() const { return offset_min_; }

 private:
  Sgp4 sgp4_;
  double offset_min_;
};

// Sgp4::Create and an Sgp4Propagator for `scenario_epoch`, shared so that a Constellation can hold
// it. kInvalidArgument as Sgp4::Create, with the satellite named.
absl::StatusOr<std::shared_ptr<const Propagator>> MakeSgp4Propagator(
    const Tle& tle, absl::Time scenario_epoch, const Sgp4Options& options = {});

// Greenwich mean sidereal angle (radians, [0, 2 pi)) at a UT1 Julian date, IAU-82 as Vallado's
// gstime: the rotation from TEME to the Earth-fixed frame (ignoring polar motion).
double GreenwichSiderealAngleRad(double jd_ut1);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_SGP4_H_
