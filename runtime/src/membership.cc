#include "crosslink/runtime/membership.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace crosslink::runtime {

const DeadRank* Membership::FindDead(int rank) const {
  for (const DeadRank& dead : dead_ranks) {
    if (dead.rank == rank) return &dead;
  }
  return nullptr;
}

const DeadRank* Membership::FirstDeathAfter(int64_t since_epoch) const {
  for (const DeadRank& dead : dead_ranks) {
    if (dead.epoch > since_epoch) return &dead;
  }
  return nullptr;
}

std::string Membership::ToString() const {
  std::string out =
      absl::StrCat("epoch ", epoch, ": alive [", absl::StrJoin(alive_ranks, ", "), "]");
  if (!dead_ranks.empty()) {
    absl::StrAppend(
        &out, "; dead: ", absl::StrJoin(dead_ranks, "; ", [](std::string* s, const DeadRank& d) {
          absl::StrAppend(s, d.reason);
        }));
  }
  return out;
}

}  // namespace crosslink::runtime
