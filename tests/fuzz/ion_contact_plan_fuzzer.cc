// Fuzzes the ION-DTN contact-plan reader (linkmodel/ion_contact_plan.h): a text file that DTN
// tools write and that crosslink-linkmodel reads back.
//
// Properties checked: nothing crashes, leaks or hits undefined behaviour; what parses satisfies
// the documented contract (times non-negative and ordered, node numbers within 1..N when node
// comments are present, values non-negative); formatting a parsed plan and parsing it again
// gives the same plan.
#include <string_view>

#include "crosslink/linkmodel/ion_contact_plan.h"
#include "fuzz_input.h"

namespace {

using crosslink::linkmodel::IonContactPlan;

template <typename Entry>
void CheckEntry(const IonContactPlan& ion, const Entry& e) {
  CROSSLINK_FUZZ_CHECK(e.start_s >= 0 && e.end_s >= e.start_s);
  CROSSLINK_FUZZ_CHECK(e.from_node >= 1 && e.to_node >= 1);
  if (!ion.node_names.empty()) {
    const int n = static_cast<int>(ion.node_names.size());
    CROSSLINK_FUZZ_CHECK(e.from_node <= n && e.to_node <= n);
  }
}

bool SamePlan(const IonContactPlan& a, const IonContactPlan& b) {
  if (a.node_names != b.node_names || a.contacts.size() != b.contacts.size() ||
      a.ranges.size() != b.ranges.size()) {
    return false;
  }
  for (size_t i = 0; i < a.contacts.size(); ++i) {
    const auto &x = a.contacts[i], &y = b.contacts[i];
    if (x.start_s != y.start_s || x.end_s != y.end_s || x.from_node != y.from_node ||
        x.to_node != y.to_node || x.rate_bytes_per_s != y.rate_bytes_per_s) {
      return false;
    }
  }
  for (size_t i = 0; i < a.ranges.size(); ++i) {
    const auto &x = a.ranges[i], &y = b.ranges[i];
    if (x.start_s != y.start_s || x.end_s != y.end_s || x.from_node != y.from_node ||
        x.to_node != y.to_node || x.owlt_s != y.owlt_s) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<IonContactPlan> ion =
      crosslink::linkmodel::ParseIonContactPlan(text, "fuzz.ion");
  if (!ion.ok()) {
    CROSSLINK_FUZZ_CHECK(ion.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  for (const auto& c : ion->contacts) {
    CheckEntry(*ion, c);
    CROSSLINK_FUZZ_CHECK(c.rate_bytes_per_s >= 0);
  }
  for (const auto& r : ion->ranges) {
    CheckEntry(*ion, r);
    CROSSLINK_FUZZ_CHECK(r.owlt_s >= 0);
  }
  const absl::StatusOr<IonContactPlan> again = crosslink::linkmodel::ParseIonContactPlan(
      crosslink::linkmodel::FormatIonContactPlan(*ion), "formatted");
  CROSSLINK_FUZZ_CHECK(again.ok());
  CROSSLINK_FUZZ_CHECK(SamePlan(*ion, *again));
  return 0;
}
