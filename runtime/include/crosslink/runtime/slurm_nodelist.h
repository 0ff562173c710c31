// Slurm's compressed lists, as srun puts them in the environment: the host list of
// SLURM_JOB_NODELIST ("gpu[01-04,07],cpu3") and the task counts of SLURM_TASKS_PER_NODE
// ("2(x3),1"). launch_env.h reads them to find the coordinator's host and this node's task count.
//
// Host list grammar (what ExpandSlurmNodelist accepts):
//   nodelist := host ("," host)*          commas inside brackets do not separate hosts
//   host     := text (group text)*        the first text is not empty; text has no , [ ]
//   group    := "[" range ("," range)* "]"  groups do not nest
//   range    := number | number "-" number  decimal digits only, low <= high
// A host stands for every name formed by choosing one number from each of its groups, the first
// group varying slowest: "r[1-2]n[1-2]" -> r1n1 r1n2 r2n1 r2n2. A number is zero-padded to the
// width of its range's low bound as written: "n[098-101]" -> n098 n099 n100 n101, "n[8-11]" ->
// n8 n9 n10 n11.
//
// Task list grammar (ExpandSlurmTasksPerNode): entry ("," entry)*, entry := count | count "(x"
// repeat ")", count >= 0, repeat >= 1: "2(x3),1" -> 2 2 2 1, one entry per node.
//
// Bounds: the text comes from the environment, so it is untrusted. A list that stands for more
// than kMaxSlurmHosts hosts (or nodes), a number that does not fit in 64 bits, or a host name
// longer than kMaxSlurmHostNameLength fails before anything that large is built, so a hostile or
// mistyped list ("n[0-9223372036854775807]") costs neither minutes nor gigabytes.
//
// Errors: kInvalidArgument quoting the list and naming the offending part (unbalanced or nested
// brackets, an empty host name, a range that is not numbers or descends, a bound exceeded).
// Thread-safety: pure functions.
#ifndef CROSSLINK_RUNTIME_SLURM_NODELIST_H_
#define CROSSLINK_RUNTIME_SLURM_NODELIST_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace crosslink::runtime {

// The most hosts (or nodes) one list may stand for: four times the 16383 ranks that the executor
// can name in an abort frame (collectives/src/execution/abort_protocol.h), so no job Crosslink can
// run is refused, while the expanded list stays below 16 MiB of names.
inline constexpr size_t kMaxSlurmHosts = 65536;

// The longest host name accepted: POSIX's _POSIX_HOST_NAME_MAX; a DNS name has at most 253.
inline constexpr size_t kMaxSlurmHostNameLength = 255;

// Expands a Slurm host list: "gpu[01-04,07],cpu3" -> gpu01 gpu02 gpu03 gpu04 gpu07 cpu3.
absl::StatusOr<std::vector<std::string>> ExpandSlurmNodelist(std::string_view nodelist);

// Expands SLURM_TASKS_PER_NODE: "2(x3),1" -> 2 2 2 1.
absl::StatusOr<std::vector<int>> ExpandSlurmTasksPerNode(std::string_view tasks_per_node);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SLURM_NODELIST_H_
