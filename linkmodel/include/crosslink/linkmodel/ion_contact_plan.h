// ION-DTN contact plans: the text form that ION's ionadmin (and DTN tools that copy it) reads, so
// a Crosslink scenario can drive a DTN emulation. Written from a ContactPlan and read back (tests
// and tools check a file against the plan it came from).
//
// Format, one command per line:
//   # node <n> <satellite name>            nodes are numbered 1..N in plan order
//   a contact +<t0> +<t1> <from> <to> <rate>   rate in bytes/s
//   a range +<t0> +<t1> <from> <to> <owlt>     one-way light time in whole seconds
// Times are whole seconds relative to the scenario epoch (ION's "+" form). Every up-interval of
// a link gives both directions. Rounding keeps the file conservative: t0 is rounded up, t1 down
// (an interval that vanishes is dropped), the rate is the interval's minimum rounded down, the
// light time its maximum rounded up. The CSV export keeps the exact values.
// Thread-safe (pure functions; the reader and writer block on the file).
#ifndef CROSSLINK_LINKMODEL_ION_CONTACT_PLAN_H_
#define CROSSLINK_LINKMODEL_ION_CONTACT_PLAN_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::linkmodel {

struct IonContact {
  int64_t start_s = 0;
  int64_t end_s = 0;
  int from_node = 0;  // 1-based ION node numbers
  int to_node = 0;
  int64_t rate_bytes_per_s = 0;
};

struct IonRange {
  int64_t start_s = 0;
  int64_t end_s = 0;
  int from_node = 0;
  int to_node = 0;
  int64_t owlt_s = 0;
};

struct IonContactPlan {
  std::vector<std::string> node_names;  // node n is node_names[n - 1]
  std::vector<IonContact> contacts;
  std::vector<IonRange> ranges;
};

// The ION form of `plan` under the rounding rules above.
IonContactPlan ToIonContactPlan(const ContactPlan& plan);
// Renders the text (a comment header, the node comments, then the commands).
std::string FormatIonContactPlan(const IonContactPlan& ion);
// Writes ToIonContactPlan(plan) to `path`. kInvalidArgument naming the path on failure.
absl::Status WriteIonContactPlan(const ContactPlan& plan, const std::filesystem::path& path);

// Parses the format above. Lines other than `a contact`, `a range`, comments and blank lines are
// kInvalidArgument naming `source` and the line number, as are malformed numbers, node numbers
// outside 1..N when node comments are present, and end times before start times.
absl::StatusOr<IonContactPlan> ParseIonContactPlan(std::string_view text, std::string_view source);
// Reads and parses a file; kNotFound when it cannot be opened (missing or unreadable).
absl::StatusOr<IonContactPlan> ReadIonContactPlan(const std::filesystem::path& path);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_ION_CONTACT_PLAN_H_
