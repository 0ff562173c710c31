// Physical constants shared by the link model. One place, so every module agrees on the Earth.
#ifndef CROSSLINK_LINKMODEL_CONSTANTS_H_
#define CROSSLINK_LINKMODEL_CONSTANTS_H_

namespace crosslink::linkmodel {

// WGS-72, as SGP4 and its verification set use; the generated orbits use the same values so a
// Walker shell and a TLE of the same altitude agree on their period.
inline constexpr double kEarthRadiusKm = 6378.135;
inline constexpr double kEarthMuKm3PerS2 = 398600.8;
inline constexpr double kEarthJ2 = 0.001082616;
inline constexpr double kSpeedOfLightKmPerS = 299792.458;
inline constexpr double kPi = 3.14159265358979323846;
inline constexpr double kDegToRad = kPi / 180.0;
inline constexpr double kRadToDeg = 180.0 / kPi;
// Mean motion of the Earth around the Sun, for sun-synchronous and dawn-dusk orbits.
inline constexpr double kEarthOrbitRateRadPerS = 2.0 * kPi / (365.2421897 * 86400.0);
inline constexpr double kSecondsPerDay = 86400.0;
inline constexpr double kUnixEpochJulianDate = 2440587.5;

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_CONSTANTS_H_
