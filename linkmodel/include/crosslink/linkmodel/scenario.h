// Scenario: everything a user states about one orbit experiment, read from a TOML file (format
// documented in README.md, "Scenario files"). Plain data: loading it checks every value and
// reports the file, key and reason of the first bad one; building the constellation and the
// contact plan from it happens elsewhere (scenario_builder.h).
#ifndef CROSSLINK_LINKMODEL_SCENARIO_H_
#define CROSSLINK_LINKMODEL_SCENARIO_H_

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crosslink::linkmodel {

struct TimeConfig {
  absl::Time start = absl::FromCivil(absl::CivilSecond(2025, 1, 23, 0, 0, 0), absl::UTCTimeZone());
  double duration_s = 5730.0;
  double step_s = 1.0;
  // Orbit seconds that pass per wall second when the plan drives a live run (link emulator).
  double time_scale = 1.0;
};

struct WalkerConfig {
  int planes = 72;
  int sats_per_plane = 22;
  int phasing = 39;  // Walker F, 0 <= F < planes
  double altitude_km = 550.0;
  double inclination_deg = 53.0;
  // Right ascension spread of the planes: 360 for Walker delta, 180 for Walker star.
  double raan_spread_deg = 360.0;
  double raan_offset_deg = 0.0;
};

// One formation cluster flying around a circular reference orbit (Suncatcher-like).
struct FormationConfig {
  int count = 81;
  double radius_km = 1.0;
  double altitude_km = 650.0;
  // NaN: sun-synchronous inclination for the altitude (J2).
  double inclination_deg = std::numeric_limits<double>::quiet_NaN();
  // NaN: dawn-dusk, i.e. the plane's normal points at the Sun at the epoch.
  double raan_deg = std::numeric_limits<double>::quiet_NaN();
  // Added to the RAAN chosen above (lets a second cluster fly a neighbouring plane).
  double raan_offset_deg = 0.0;
  double mean_anomaly_deg = 0.0;
};

struct TleSelection {
  std::filesystem::path file;           // resolved against the scenario file's folder
  std::vector<std::string> satellites;  // names or NORAD ids; empty: every satellite that passes
  double inclination_min_deg = 0.0;
  double inclination_max_deg = 180.0;
  int first_n = 0;  // 0: no limit
};

struct ConstellationConfig {
  enum class Type { kWalkerDelta, kTle, kFormation };
  Type type = Type::kWalkerDelta;
  WalkerConfig walker;
  std::vector<FormationConfig> formations;  // one entry per cluster
  TleSelection tle;
};

enum class Topology { kPlusGrid, kInRange, kNearestK };

struct LinkPhysics {
  Topology topology = Topology::kPlusGrid;
  // Laser terminals per satellite: the k of nearest-k and the cap for in-range.
  int terminals = 4;
  // Each check is off when its value is 0.
  double grazing_altitude_km = 80.0;
  double max_range_km = 5000.0;
  double polar_cutoff_deg = 0.0;  // cross-plane links off while either end is above |latitude|
  double sun_exclusion_deg = 0.0;
  double acquisition_s = 0.0;
  // Data rate in bits/s: rate_bps up to rate_reference_range_km, then falling with the square of
  // range. A reference range of 0 keeps the rate fixed.
  double rate_bps = 100e9;
  double rate_reference_range_km = 0.0;
};

struct FaultConfig {
  uint64_t seed = 1;
  // Exponential up and down times per link; 0 disables.
  double link_mtbf_s = 0.0;
  double link_mttr_s = 0.0;
  // Radiation resets: a satellite loses every link for an exponential down time; 0 disables.
  double satellite_mtbf_s = 0.0;
  double satellite_mttr_s = 0.0;
  // Bit errors: mean orbit seconds between corrupted messages per link and direction
  // (exponential); the link emulator flips one bit of such a message's payload in flight, which
  // the receiver's CRC32C check turns into kDataLoss. 0 disables.
  double corruption_mtbf_s = 0.0;
};

// Which satellite hosts which rank of a training job (rank i on rank_satellites[i]).
struct ClusterConfig {
  std::vector<std::string> rank_satellites;
};

struct Scenario {
  std::string name;                  // the file stem
  std::filesystem::path source_dir;  // folder of the scenario file, for relative paths
  TimeConfig time;
  ConstellationConfig constellation;
  LinkPhysics links;
  FaultConfig faults;
  ClusterConfig cluster;
};

// Reads and validates a scenario. kNotFound when the file is missing; kPermissionDenied when it
// exists but cannot be opened; kInvalidArgument naming the file, the key and the reason for a TOML
// syntax error, a bad value or an unknown key. Blocks on the file read; thread-safe.
absl::StatusOr<Scenario> LoadScenario(const std::filesystem::path& file);
// Same, from text; `source_dir` resolves relative paths and `name` fills Scenario::name.
absl::StatusOr<Scenario> ParseScenario(std::string_view toml_text, std::string_view name,
                                       const std::filesystem::path& source_dir);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_SCENARIO_H_
