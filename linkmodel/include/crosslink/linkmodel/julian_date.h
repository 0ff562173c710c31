// Conversions between absl::Time (UTC, ignoring leap seconds as SGP4 does) and Julian dates.
#ifndef CROSSLINK_LINKMODEL_JULIAN_DATE_H_
#define CROSSLINK_LINKMODEL_JULIAN_DATE_H_

#include "absl/time/time.h"
#include "crosslink/linkmodel/constants.h"

namespace crosslink::linkmodel {

inline double ToJulianDate(absl::Time t) {
  return absl::ToDoubleSeconds(t - absl::UnixEpoch()) / kSecondsPerDay + kUnixEpochJulianDate;
}

inline absl::Time FromJulianDate(double jd) {
  return absl::UnixEpoch() + absl::Seconds((jd - kUnixEpochJulianDate) * kSecondsPerDay);
}

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_JULIAN_DATE_H_
