// Low-precision solar ephemeris (Astronomical Almanac, as Vallado's "sun" algorithm writes it):
// the direction of the Sun from the Earth's centre in the mean-equator inertial frame, good to
// about 0.01 degrees over 1950-2050. That is ample for sun-exclusion cones of a few degrees and
// for placing dawn-dusk orbits. Pure functions; thread-safe.
#ifndef CROSSLINK_LINKMODEL_SUN_H_
#define CROSSLINK_LINKMODEL_SUN_H_

#include "absl/time/time.h"
#include "crosslink/linkmodel/vec3.h"

namespace crosslink::linkmodel {

// Unit vector towards the Sun at Julian date jd (UT1 ~ UTC for this precision).
Vec3 SunDirectionAtJulianDate(double jd);
// Same at an instant.
Vec3 SunDirection(absl::Time t);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_SUN_H_
