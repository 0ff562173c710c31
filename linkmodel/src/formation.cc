#include "crosslink/linkmodel/formation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/linkmodel/constants.h"
#include "crosslink/linkmodel/sun.h"

namespace crosslink::linkmodel {
namespace {

absl::Status Invalid(int cluster, std::string_view key, std::string_view reason, double value) {
  return absl::InvalidArgumentError(absl::StrFormat("formation[%d].%s %s, got %g", cluster,
                                                    std::string(key), std::string(reason), value));
}

absl::Status Validate(const FormationConfig& c, int cluster) {
  if (c.count < 1) return Invalid(cluster, "count", "must be at least 1", c.count);
  if (!(c.radius_km > 0.0) || !std::isfinite(c.radius_km)) {
    return Invalid(cluster, "radius_km", "must be positive", c.radius_km);
  }
  if (!(c.altitude_km > 0.0) || !std::isfinite(c.altitude_km)) {
    return Invalid(cluster, "altitude_km", "must be positive", c.altitude_km);
  }
  if (!std::isnan(c.inclination_deg) && !(c.inclination_deg >= 0.0 && c.inclination_deg <= 180.0)) {
    return Invalid(cluster, "inclination_deg", "must be in [0, 180] (or absent)",
                   c.inclination_deg);
  }
  if (!std::isnan(c.raan_deg) && !std::isfinite(c.raan_deg)) {
    return Invalid(cluster, "raan_deg", "must be finite (or absent)", c.raan_deg);
  }
  if (!std::isfinite(c.raan_offset_deg)) {
    return Invalid(cluster, "raan_offset_deg", "must be finite", c.raan_offset_deg);
  }
  if (!std::isfinite(c.mean_anomaly_deg)) {
    return Invalid(cluster, "mean_anomaly_deg", "must be finite", c.mean_anomaly_deg);
  }
  return absl::OkStatus();
}

// Polar coordinates (rho, alpha) of `count` points of a hexagonal lattice, nearest to the centre
// first, scaled so the outermost lies on radius_km. A hexagonal lattice is the densest packing of
// a disc, which is what a Suncatcher-like cluster wants: the most satellites at the least
// spread for the same minimum spacing.
std::vector<std::pair<double, double>> HexLayout(int count, double radius_km) {
  struct Point {
    int64_t r2;  // squared radius in lattice units: i^2 + i j + j^2, an exact integer
    double angle;
    double x, y;
  };
  const int m = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(count)))) + 2;
  std::vector<Point> points;
  for (int i = -m; i <= m; ++i) {
    for (int j = -m; j <= m; ++j) {
      const double x = i + 0.5 * j, y = j * std::sqrt(3.0) / 2.0;
      double angle = std::atan2(y, x);
      if (angle < 0) angle += 2 * kPi;
      points.push_back(
          {static_cast<int64_t>(i) * i + static_cast<int64_t>(i) * j + static_cast<int64_t>(j) * j,
           angle, x, y});
    }
  }
  std::sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a.r2 != b.r2 ? a.r2 < b.r2 : a.angle < b.angle;
  });
  points.resize(count);
  const double outer = std::sqrt(static_cast<double>(points.back().r2));
  const double scale = outer > 0 ? radius_km / outer : 0.0;
  std::vector<std::pair<double, double>> layout;
  for (const Point& p : points) {
    layout.push_back({scale * std::sqrt(static_cast<double>(p.r2)), p.r2 == 0 ? 0.0 : p.angle});
  }
  return layout;
}

}  // namespace

absl::StatusOr<CircularOrbit> FormationReferenceOrbit(const FormationConfig& config,
                                                      absl::Time epoch) {
  RETURN_IF_ERROR(Validate(config, 0));
  CircularOrbit orbit;
  orbit.altitude_km = config.altitude_km;
  if (std::isnan(config.inclination_deg)) {
    ASSIGN_OR_RETURN(orbit.inclination_deg, SunSynchronousInclinationDeg(config.altitude_km));
  } else {
    orbit.inclination_deg = config.inclination_deg;
  }
  if (std::isnan(config.raan_deg)) {
    // The normal of a plane with RAAN O is (sin i sin O, -sin i cos O, cos i); turning its
    // equatorial part towards the Sun's makes the orbit ride the terminator (dawn-dusk).
    const Vec3 sun = SunDirection(epoch);
    orbit.raan_deg = std::atan2(sun.x, -sun.y) * kRadToDeg;
  } else {
    orbit.raan_deg = config.raan_deg;
  }
  orbit.raan_deg += config.raan_offset_deg;
  orbit.arg_latitude_deg = config.mean_anomaly_deg;  // circular: mean anomaly from the node
  return orbit;
}

absl::StatusOr<Constellation> MakeFormation(const std::vector<FormationConfig>& clusters,
                                            absl::Time epoch) {
  if (clusters.empty()) {
    return absl::InvalidArgumentError("formation: at least one cluster is needed");
  }
  int64_t total = 0;
  for (const FormationConfig& c : clusters) total += std::max(c.count, 0);
  if (total > kMaxSatellites) {
    return absl::InvalidArgumentError(
        absl::StrFormat("formation: the clusters' counts add up to %d satellites; at most %d are "
                        "allowed",
                        total, kMaxSatellites));
  }
  Constellation constellation;
  constellation.epoch = epoch;
  for (size_t c = 0; c < clusters.size(); ++c) {
    const int cluster = static_cast<int>(c);
    RETURN_IF_ERROR(Validate(clusters[c], cluster));
    absl::StatusOr<CircularOrbit> orbit = FormationReferenceOrbit(clusters[c], epoch);
    if (!orbit.ok()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("formation[%d]: %s", cluster, orbit.status().message()));
    }
    auto reference = std::make_shared<const KeplerJ2Propagator>(*orbit);
    const auto layout = HexLayout(clusters[c].count, clusters[c].radius_km);
    for (int i = 0; i < clusters[c].count; ++i) {
      Satellite sat;
      sat.name = absl::StrCat("C", cluster, "S", i);
      sat.plane = cluster;
      sat.slot = i;
      sat.propagator =
          std::make_shared<FormationPropagator>(reference, layout[i].first, layout[i].second);
      constellation.satellites.push_back(std::move(sat));
    }
  }
  return constellation;
}

FormationPropagator::FormationPropagator(std::shared_ptr<const KeplerJ2Propagator> reference,
                                         double rho_km, double alpha_rad)
    : reference_(std::move(reference)),
      rho_km_(rho_km),
      alpha_rad_(alpha_rad),
      n_rad_s_(reference_->rates().arg_latitude_rate_rad_s) {}

absl::StatusOr<StateVector> FormationPropagator::StateAt(double t_s) const {
  const StateVector ref = reference_->State(t_s);
  if (rho_km_ == 0.0) return ref;
  const double theta = n_rad_s_ * t_s + alpha_rad_;
  const double c = std::cos(theta), s = std::sin(theta);
  const double half_sqrt3 = std::sqrt(3.0) / 2.0;
  // Offset and its rate in the local frame (radial, along-track, cross-track).
  const double x = 0.5 * rho_km_ * c, y = -rho_km_ * s, z = half_sqrt3 * rho_km_ * c;
  const double xd = -0.5 * rho_km_ * n_rad_s_ * s, yd = -rho_km_ * n_rad_s_ * c,
               zd = -half_sqrt3 * rho_km_ * n_rad_s_ * s;
  const Vec3 h = Cross(ref.position_km, ref.velocity_km_s);
  const Vec3 radial = Normalized(ref.position_km);
  const Vec3 cross = Normalized(h);
  const Vec3 along = Cross(cross, radial);
  const Vec3 offset = radial * x + along * y + cross * z;
  // The local frame turns at omega = r x v / |r|^2 (the plane's slow J2 regression is ignored).
  const Vec3 omega = h / Dot(ref.position_km, ref.position_km);
  StateVector out;
  out.position_km = ref.position_km + offset;
  out.velocity_km_s =
      ref.velocity_km_s + Cross(omega, offset) + radial * xd + along * yd + cross * zd;
  return out;
}

}  // namespace crosslink::linkmodel
