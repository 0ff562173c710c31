// Private to the SGP4 sources: the WGS-72 constants and the deep-space (SDP4) part of the model,
// Vallado's dscom + dsinit (InitDeepSpace), dspace (ApplyDeepSpaceSecular) and dpper
// (ApplyLunarSolarPeriodics). Variable names follow Vallado's sgp4unit.cpp so the code can be
// checked against it line by line.
#ifndef CROSSLINK_LINKMODEL_SRC_SGP4_DEEP_SPACE_H_
#define CROSSLINK_LINKMODEL_SRC_SGP4_DEEP_SPACE_H_

#include <cmath>

#include "crosslink/linkmodel/sgp4.h"

namespace crosslink::linkmodel::sgp4_internal {

// Vallado's `pi` macro and derived values.
inline constexpr double kPi = 3.14159265358979323846;
inline constexpr double kTwoPi = 2.0 * kPi;
inline constexpr double kX2o3 = 2.0 / 3.0;

// WGS-72 (Vallado's getgravconst(wgs72)): the constants the TLEs are fitted with.
struct Wgs72 {
  static constexpr double kMu = 398600.8;             // km^3/s^2
  static constexpr double kRadiusEarthKm = 6378.135;  // km
  static constexpr double kJ2 = 0.001082616;
  static constexpr double kJ3 = -0.00000253881;
  static constexpr double kJ4 = -0.00000165597;
  static constexpr double kJ3oJ2 = kJ3 / kJ2;
};
// xke = 60 / sqrt(re^3 / mu), in Earth radii^1.5 per minute. Not constexpr (std::sqrt), so it is
// computed once per process; the value is bit for bit Vallado's.
inline const double kXke = 60.0 / std::sqrt(Wgs72::kRadiusEarthKm * Wgs72::kRadiusEarthKm *
                                            Wgs72::kRadiusEarthKm / Wgs72::kMu);

// Immutable deep-space coefficients of one satellite.
struct DeepSpace {
  Sgp4OpsMode ops_mode = Sgp4OpsMode::kImproved;
  // Lunar-solar periodic coefficients (dscom). Vallado's peo, pinco, plo, pgho and pho are always
  // zero, so subtracting them is omitted.
  double e3 = 0, ee2 = 0, se2 = 0, se3 = 0, sgh2 = 0, sgh3 = 0, sgh4 = 0, sh2 = 0, sh3 = 0;
  double si2 = 0, si3 = 0, sl2 = 0, sl3 = 0, sl4 = 0, xgh2 = 0, xgh3 = 0, xgh4 = 0;
  double xh2 = 0, xh3 = 0, xi2 = 0, xi3 = 0, xl2 = 0, xl3 = 0, xl4 = 0, zmol = 0, zmos = 0;
  // Secular lunar-solar rates and resonance terms (dsinit). irez: 0 none, 1 synchronous (24 h),
  // 2 half-day (12 h, eccentric).
  int irez = 0;
  double gsto = 0;
  double d2201 = 0, d2211 = 0, d3210 = 0, d3222 = 0, d4410 = 0, d4422 = 0;
  double d5220 = 0, d5232 = 0, d5421 = 0, d5433 = 0;
  double dedt = 0, didt = 0, dmdt = 0, dnodt = 0, domdt = 0;
  double del1 = 0, del2 = 0, del3 = 0, xfact = 0, xlamo = 0;
  // Copies of near-Earth quantities that dspace reads.
  double argpo = 0, argpdot = 0, no_unkozai = 0;
};

// What dscom and dsinit need from sgp4init.
struct DeepSpaceInput {
  Sgp4OpsMode ops_mode = Sgp4OpsMode::kImproved;
  double epoch_days_since_1950 = 0;  // Julian date - 2433281.5
  double ecco = 0, eccsq = 0, argpo = 0, inclo = 0, nodeo = 0, mo = 0, no_unkozai = 0;
  double mdot = 0, argpdot = 0, nodedot = 0, xpidot = 0;
};

DeepSpace InitDeepSpace(const DeepSpaceInput& in);

// Mean elements that dspace updates in place.
struct MeanElements {
  double em, argpm, inclm, mm, nodem, nm;
};

// dspace: lunar-solar secular effects and the resonance integration to time t (minutes).
void ApplyDeepSpaceSecular(const DeepSpace& ds, double t, MeanElements& m);

// dpper after initialisation: adds the lunar-solar periodics at time t to the elements.
void ApplyLunarSolarPeriodics(const DeepSpace& ds, double t, double& ep, double& inclp,
                              double& nodep, double& argpp, double& mp);

}  // namespace crosslink::linkmodel::sgp4_internal

#endif  // CROSSLINK_LINKMODEL_SRC_SGP4_DEEP_SPACE_H_
