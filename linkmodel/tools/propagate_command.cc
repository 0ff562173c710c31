// `crosslink-linkmodel propagate` (usage in propagate_command.h).
#include "propagate_command.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "crosslink/base/flags.h"
#include "crosslink/linkmodel/sgp4.h"
#include "crosslink/linkmodel/tle.h"

namespace crosslink::linkmodel::tools {
namespace {

constexpr char kUsage[] =
    "usage: crosslink-linkmodel propagate --tle FILE [--sat NORAD]... --start-min A\n"
    "                                     --stop-min B --step-min C [--no-checksum]\n"
    "  Prints SGP4 states (TEME, km and km/s) as CSV for t = A, A+C, ... up to B and B itself,\n"
    "  t in minutes since each TLE's epoch. Without --sat: every satellite in FILE.\n";

struct PropagateArgs {
  std::string tle_file;
  std::vector<int64_t> sats;
  double start_min = NAN, stop_min = NAN, step_min = NAN;
  bool no_checksum = false;
};

// One CSV row per time until the first error, which goes to stderr.
void PropagateOne(const Tle& tle, const PropagateArgs& args) {
  absl::StatusOr<Sgp4> sgp4 = Sgp4::Create(tle);
  if (!sgp4.ok()) {
    std::cerr << "crosslink-linkmodel propagate: " << sgp4.status().message() << "\n";
    return;
  }
  // Vallado's driver: t accumulates the step and the last point is clamped to the stop time.
  double t = args.start_min;
  for (;;) {
    absl::StatusOr<StateVector> s = sgp4->Propagate(t);
    if (!s.ok()) {
      std::cerr << "crosslink-linkmodel propagate: " << s.status().message() << "\n";
      return;
    }
    std::printf("%lld,%.8f,%.8f,%.8f,%.8f,%.9f,%.9f,%.9f\n", static_cast<long long>(tle.norad_id),
                t, s->position_km.x, s->position_km.y, s->position_km.z, s->velocity_km_s.x,
                s->velocity_km_s.y, s->velocity_km_s.z);
    if (!(t < args.stop_min)) return;
    t += args.step_min;
    if (t > args.stop_min) t = args.stop_min;
  }
}

}  // namespace

int RunPropagate(int argc, char** argv) {
  PropagateArgs args;
  base::FlagSet flags("crosslink-linkmodel propagate", kUsage);
  flags.String("tle", &args.tle_file, "the TLE file").ValueName("FILE").Required();
  flags.Custom(
      "sat", "NORAD",
      [&args](absl::string_view value) {
        int64_t id = 0;
        if (!absl::SimpleAtoi(value, &id) || id < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("needs a NORAD number, got '", value, "'"));
        }
        args.sats.push_back(id);
        return absl::OkStatus();
      },
      "a satellite to propagate (repeat for more; default: all in FILE)");
  flags.Double("start-min", &args.start_min, "first time, minutes since each TLE's epoch")
      .ValueName("A")
      .Required();
  flags.Double("stop-min", &args.stop_min, "last time, minutes").ValueName("B").Required();
  flags.Double("step-min", &args.step_min, "time step, minutes").ValueName("C").Above(0).Required();
  flags.Switch("no-checksum", &args.no_checksum, "do not verify the TLE lines' checksums");
  if (std::optional<int> exit_code = flags.ParseMain(argc, argv)) return *exit_code;
  if (args.stop_min < args.start_min) {
    std::cerr << flags.UsageError("--stop-min must not be below --start-min");
    return 2;
  }
  const bool verify_checksums = !args.no_checksum;

  TleOptions options;
  options.verify_checksums = verify_checksums;
  absl::StatusOr<std::vector<Tle>> tles = LoadTleFile(args.tle_file, options);
  if (!tles.ok() && verify_checksums) {
    // A file that parses once checksums are ignored (Vallado's SGP4-VER.TLE has hand-edited
    // cases) is propagated with a warning: the states are still what the elements say.
    TleOptions lax = options;
    lax.verify_checksums = false;
    absl::StatusOr<std::vector<Tle>> lenient = LoadTleFile(args.tle_file, lax);
    if (lenient.ok()) {
      std::cerr << "crosslink-linkmodel propagate: warning: " << tles.status().message()
                << "; checksums are not verified for this file (--no-checksum silences this)\n";
    }
    tles = std::move(lenient);
  }
  if (!tles.ok()) {
    std::cerr << "crosslink-linkmodel propagate: " << tles.status().message() << "\n";
    return 1;
  }
  std::vector<const Tle*> chosen;
  if (args.sats.empty()) {
    for (const Tle& tle : *tles) chosen.push_back(&tle);
  } else {
    for (const int64_t id : args.sats) {
      const Tle* found = nullptr;
      for (const Tle& tle : *tles) {
        if (tle.norad_id == id) {
          found = &tle;
          break;
        }
      }
      if (found == nullptr) {
        std::cerr << "crosslink-linkmodel propagate: satellite " << id << " is not in "
                  << args.tle_file << "\n";
        return 2;
      }
      chosen.push_back(found);
    }
  }
  std::printf("norad,tsince_min,x_km,y_km,z_km,vx_km_s,vy_km_s,vz_km_s\n");
  for (const Tle* tle : chosen) PropagateOne(*tle, args);
  std::fflush(stdout);
  return 0;
}

}  // namespace crosslink::linkmodel::tools
