// Two-line element sets (TLEs): the public orbit format of NORAD / CelesTrak, and the input of
// SGP4 (sgp4.h). This file parses single element sets and whole files in the 2-line and 3-line
// (name line first) forms, mixed freely, and the SGP4 verification file of Vallado et al., whose
// line 2 carries the start, stop and step of the test run after column 69.
//
// Parsing is fixed-column, exactly as Vallado's twoline2rv reads the lines (implied decimal points,
// the "mantissa-exponent" fields of BSTAR and the second derivative), so the numbers handed to SGP4
// are bit for bit the ones its reference implementation sees.
//
// Status codes: kInvalidArgument for a malformed line, a field that is not a number or is out of
// range, or a checksum that does not match (the message names the file, the 1-based line number and
// the field); kNotFound when a file cannot be opened. Every function is thread-compatible (no
// shared state); results are plain values owned by the caller.
#ifndef CROSSLINK_LINKMODEL_TLE_H_
#define CROSSLINK_LINKMODEL_TLE_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crosslink::linkmodel {

// One element set, in the units printed in the TLE (degrees, revolutions per day) so that it can be
// shown to a user or written back; SGP4 converts to its own units.
struct Tle {
  // The trimmed name line of a 3-line set (a leading "0 " as in some catalogue dumps is dropped);
  // empty for a 2-line set.
  std::string name;
  // NORAD catalogue number. Alpha-5 numbers (first digit a letter, A=10 ... Z=33 without I and O)
  // are decoded, so 'A0001' is 100001.
  int64_t norad_id = 0;
  char classification = 'U';
  // International designator as printed, trimmed ("58002B"); may be empty (analyst objects).
  std::string international_designator;

  // Epoch as printed: two-digit year (57..99 -> 19xx, 00..56 -> 20xx) and fractional day of year
  // (1.0 is 1 January 00:00 UTC).
  int epoch_year = 0;
  double epoch_day_of_year = 0.0;
  // The same instant as absl::Time (UTC, no leap seconds, as SGP4 assumes), to the nanosecond.
  absl::Time epoch;
  // The epoch as a Julian date split like Vallado's jdsatepoch + jdsatepochF: the whole part ends
  // in .5 (the preceding midnight), the fraction is the time of day in days. SGP4 uses their sum.
  double epoch_jd_whole = 0.0;
  double epoch_jd_fraction = 0.0;

  // First time derivative of the mean motion divided by 2 (rev/day^2), second derivative divided
  // by 6 (rev/day^3), and the drag term B* (1/Earth radii), as printed.
  double ndot_rev_per_day2 = 0.0;
  double nddot_rev_per_day3 = 0.0;
  double bstar_per_earth_radius = 0.0;
  int ephemeris_type = 0;
  int element_set_number = 0;

  double inclination_deg = 0.0;
  double raan_deg = 0.0;
  double eccentricity = 0.0;
  double arg_perigee_deg = 0.0;
  double mean_anomaly_deg = 0.0;
  double mean_motion_rev_per_day = 0.0;
  int64_t revolution_number = 0;
};

struct TleOptions {
  // Verify the modulo-10 checksum in column 69 of both lines ('-' counts 1, digits their value).
  bool verify_checksums = true;
};

// Parses one element set. `line1` and `line2` must hold at least 69 columns; columns after 69 are
// ignored. `name` is trimmed and stored as Tle::name. Errors name "line 1" or "line 2" and the
// field; they are kInvalidArgument.
absl::StatusOr<Tle> ParseTle(std::string_view line1, std::string_view line2,
                             std::string_view name = {}, const TleOptions& options = {});

// Parses every element set in `text` (2-line or 3-line, mixed). Blank lines and lines starting with
// '#' are skipped; CR-LF line ends are accepted. `source_name` (a file name, usually) starts every
// error message, followed by the 1-based line number: "starlink.txt:17: line 1 checksum ...".
// An empty text gives an empty vector.
absl::StatusOr<std::vector<Tle>> ParseTleText(std::string_view text, std::string_view source_name,
                                              const TleOptions& options = {});

// Reads and parses a TLE file (see ParseTleText). kNotFound if it cannot be read.
absl::StatusOr<std::vector<Tle>> LoadTleFile(const std::filesystem::path& path,
                                             const TleOptions& options = {});

// One case of Vallado's SGP4 verification file (SGP4-VER.TLE): the element set and the time grid
// its reference run (tcppver.out) used, in minutes since the TLE epoch.
struct VerificationTle {
  Tle tle;
  double start_min = 0.0;
  double stop_min = 0.0;
  double step_min = 0.0;
};

// Parses a verification file: like ParseTleText, but each line 2 must carry start, stop and step
// (three numbers) after column 69. The real SGP4-VER.TLE holds four deliberately edited sets whose
// checksums no longer match (the error-code cases 33333-33335), so it loads with
// verify_checksums = false.
absl::StatusOr<std::vector<VerificationTle>> ParseVerificationTleText(
    std::string_view text, std::string_view source_name, const TleOptions& options = {});
absl::StatusOr<std::vector<VerificationTle>> LoadVerificationTleFile(
    const std::filesystem::path& path, const TleOptions& options = {});

// The checksum a TLE line should carry in column 69, computed over its first 68 columns.
int TleChecksum(std::string_view line);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_TLE_H_
