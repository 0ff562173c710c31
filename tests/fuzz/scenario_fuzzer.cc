// Fuzzes the scenario parser (linkmodel/scenario.h): TOML text a user edits, or a file handed to
// crosslink-run from anywhere. Relative paths resolve to a folder that does not exist, so a
// scenario naming a TLE file never makes the target read the disk.
//
// Properties checked: nothing crashes, leaks or hits undefined behaviour (UBSan: float-to-int
// conversions, overflow); a parsed scenario's ranks and numbers are within what the parser
// promises (finite, positive time step and duration).
#include <cmath>
#include <string_view>

#include "crosslink/linkmodel/scenario.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<crosslink::linkmodel::Scenario> scenario =
      crosslink::linkmodel::ParseScenario(text, "fuzz", "/nonexistent/crosslink-fuzz");
  if (!scenario.ok()) {
    CROSSLINK_FUZZ_CHECK(scenario.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  CROSSLINK_FUZZ_CHECK(std::isfinite(scenario->time.duration_s) && scenario->time.duration_s > 0);
  CROSSLINK_FUZZ_CHECK(std::isfinite(scenario->time.step_s) && scenario->time.step_s > 0);
  return 0;
}
