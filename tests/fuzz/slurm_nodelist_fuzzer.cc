// Fuzzes the Slurm list parsers (runtime/slurm_nodelist.h): SLURM_JOB_NODELIST and
// SLURM_TASKS_PER_NODE come from the environment, so their text is untrusted.
//
// Input: one back byte chooses the parser; the front bytes are the list.
//
// Properties checked: nothing crashes, leaks or hits undefined behaviour, and the documented
// bounds hold before anything large is built: at most kMaxSlurmHosts hosts (or nodes), each host
// name non-empty and at most kMaxSlurmHostNameLength long, task counts non-negative.
#include <string_view>

#include "crosslink/runtime/slurm_nodelist.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace rt = crosslink::runtime;
  crosslink::fuzz::FuzzInput in(data, size);
  const uint8_t choice = in.Choice();
  size_t got = 0;
  const uint8_t* front = in.TakeFront(in.remaining(), &got);
  const std::string_view text(reinterpret_cast<const char*>(front), got);
  if (choice & 1) {
    const absl::StatusOr<std::vector<int>> counts = rt::ExpandSlurmTasksPerNode(text);
    if (!counts.ok()) {
      CROSSLINK_FUZZ_CHECK(counts.status().code() == absl::StatusCode::kInvalidArgument);
      return 0;
    }
    CROSSLINK_FUZZ_CHECK(counts->size() <= rt::kMaxSlurmHosts);
    for (int c : *counts) CROSSLINK_FUZZ_CHECK(c >= 0);
    return 0;
  }
  const absl::StatusOr<std::vector<std::string>> hosts = rt::ExpandSlurmNodelist(text);
  if (!hosts.ok()) {
    CROSSLINK_FUZZ_CHECK(hosts.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  CROSSLINK_FUZZ_CHECK(!hosts->empty() && hosts->size() <= rt::kMaxSlurmHosts);
  for (const std::string& h : *hosts) {
    CROSSLINK_FUZZ_CHECK(!h.empty() && h.size() <= rt::kMaxSlurmHostNameLength);
  }
  return 0;
}
