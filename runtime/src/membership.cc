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

const AdmittedRank* Membership::FindAdmitted(int rank) const {
  for (const AdmittedRank& admitted_rank : admitted) {
    if (admitted_rank.rank == rank) return &admitted_rank;
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
  for (const AdmittedRank& a : admitted) {
    absl::StrAppend(&out, "; rank ", a.rank, " rejoined at epoch ", a.epoch, " (incarnation ",
                    a.incarnation, ")");
  }
  if (!joining_ranks.empty()) {
    absl::StrAppend(&out, "; joining [", absl::StrJoin(joining_ranks, ", "), "]");
  }
  return out;
}

}  // namespace crosslink::runtime
