// Fuzzes TLE text (linkmodel/tle.h), as a scenario's TLE file or a snapshot downloaded from
// CelesTrak brings it, and the SGP4 model built from what parses (linkmodel/sgp4.h): element sets
// are numbers from a file, and SGP4 initialisation and propagation must turn absurd ones into a
// status, never into undefined behaviour or a hang.
//
// Input: the front bytes are the text; one back byte chooses whether checksums are verified and
// whether the text is read as a verification file (SGP4-VER.TLE's form, with a time grid).
//
// Properties checked: nothing crashes, leaks, hangs or hits undefined behaviour; every parsed
// element set has the documented ranges (eccentricity in [0, 1) is left to Sgp4::Create, which
// must refuse what it cannot model); a propagated state is finite.
#include <cmath>
#include <string_view>
#include <vector>

#include "crosslink/linkmodel/sgp4.h"
#include "crosslink/linkmodel/tle.h"
#include "fuzz_input.h"

namespace {

using crosslink::linkmodel::Sgp4;
using crosslink::linkmodel::Tle;

void Propagate(const Tle& tle) {
  const absl::StatusOr<Sgp4> sgp4 = Sgp4::Create(tle);
  if (!sgp4.ok()) {
    CROSSLINK_FUZZ_CHECK(sgp4.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  // The epoch, a day either side, and a year on (decay, deep-space resonance terms).
  for (double t_min : {0.0, -1440.0, 1440.0, 525600.0}) {
    const auto state = sgp4->Propagate(t_min);
    if (!state.ok()) continue;
    CROSSLINK_FUZZ_CHECK(std::isfinite(state->position_km.x) &&
                         std::isfinite(state->position_km.y) &&
                         std::isfinite(state->position_km.z));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  crosslink::fuzz::FuzzInput in(data, size);
  const uint8_t choice = in.Choice();
  size_t got = 0;
  const uint8_t* front = in.TakeFront(in.remaining(), &got);
  const std::string_view text(reinterpret_cast<const char*>(front), got);
  crosslink::linkmodel::TleOptions options;
  options.verify_checksums = (choice & 1) != 0;
  // At most a few element sets are propagated per input: propagation costs far more than
  // parsing, and one set exercises it as well as many.
  constexpr size_t kMaxPropagated = 4;
  if (choice & 2) {
    const auto sets = crosslink::linkmodel::ParseVerificationTleText(text, "fuzz.tle", options);
    if (!sets.ok()) return 0;
    for (size_t i = 0; i < sets->size() && i < kMaxPropagated; ++i) Propagate((*sets)[i].tle);
    return 0;
  }
  const auto tles = crosslink::linkmodel::ParseTleText(text, "fuzz.tle", options);
  if (!tles.ok()) {
    CROSSLINK_FUZZ_CHECK(tles.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  for (size_t i = 0; i < tles->size() && i < kMaxPropagated; ++i) Propagate((*tles)[i]);
  return 0;
}
