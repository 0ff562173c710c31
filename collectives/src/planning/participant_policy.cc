#include "crosslink/collectives/planning/participant_policy.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace crosslink::collectives {

std::vector<int> Members(const std::vector<bool>& set) {
  std::vector<int> ranks;
  for (size_t r = 0; r < set.size(); ++r) {
    if (set[r]) ranks.push_back(static_cast<int>(r));
  }
  return ranks;
}

std::string RankList(const std::vector<int>& ranks) {
  return absl::StrCat("{", absl::StrJoin(ranks, ","), "}");
}

LinkObservation ObserveLinks(int rank,
                             const std::vector<std::shared_ptr<const LinkTimeline>>& timelines,
                             const std::vector<bool>& dead, std::optional<double> t_s) {
  const int n = static_cast<int>(dead.size());
  LinkObservation out{std::string(n, '1'), std::numeric_limits<double>::infinity()};
  for (int p = 0; p < n; ++p) {
    if (p == rank) continue;
    if (dead[p]) {
      out.bits[p] = '0';
      continue;
    }
    if (!t_s.has_value() || p >= static_cast<int>(timelines.size()) || timelines[p] == nullptr) {
      continue;
    }
    const LinkWindow window = timelines[p]->At(*t_s);
    if (!window.up) out.bits[p] = '0';
    out.until_s = std::min(out.until_s, window.until_s);
  }
  return out;
}

std::vector<std::vector<bool>> MutuallyUp(const std::vector<std::optional<std::string>>& states,
                                          const std::vector<bool>& candidate) {
  const int n = static_cast<int>(candidate.size());
  std::vector<std::vector<bool>> up(n, std::vector<bool>(n, false));
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      up[a][b] = candidate[a] && candidate[b] && (*states[a])[b] == '1' && (*states[b])[a] == '1';
    }
  }
  return up;
}

std::vector<bool> LargestUpClique(const std::vector<std::vector<bool>>& up,
                                  const std::vector<bool>& candidate) {
  const int n = static_cast<int>(candidate.size());
  std::vector<int> ids = Members(candidate);
  const int m = static_cast<int>(ids.size());
  auto is_clique = [&](const std::vector<int>& set) {
    for (size_t i = 0; i < set.size(); ++i) {
      for (size_t j = i + 1; j < set.size(); ++j) {
        if (!up[set[i]][set[j]]) return false;
      }
    }
    return true;
  };
  std::vector<bool> best(n, false);
  if (is_clique(ids)) {
    for (int r : ids) best[r] = true;
    return best;
  }
  if (m <= kExactCliqueMaxRanks) {
    int best_size = 0;
    uint32_t best_mask = 0;
    for (uint32_t mask = 1; mask < (1u << m); ++mask) {
      const int size = std::popcount(mask);
      if (size <= best_size) continue;
      std::vector<int> set;
      for (int i = 0; i < m; ++i) {
        if (mask & (1u << i)) set.push_back(ids[i]);
      }
      if (is_clique(set)) {
        best_size = size;
        best_mask = mask;
      }
    }
    for (int i = 0; i < m; ++i) {
      if (best_mask & (1u << i)) best[ids[i]] = true;
    }
    return best;
  }
  std::vector<int> set = ids;
  while (!is_clique(set)) {
    size_t worst = 0;
    int worst_degree = std::numeric_limits<int>::max();
    for (size_t i = 0; i < set.size(); ++i) {
      int degree = 0;
      for (int other : set) degree += (other != set[i] && up[set[i]][other]) ? 1 : 0;
      if (degree <= worst_degree) {  // ties: drop the highest rank
        worst_degree = degree;
        worst = i;
      }
    }
    set.erase(set.begin() + static_cast<std::ptrdiff_t>(worst));
  }
  for (int r : set) best[r] = true;
  return best;
}

std::string EncodeDecision(const ParticipantDecision& d) {
  const char* kind = d.kind == ParticipantDecision::Kind::kAll       ? "all"
                     : d.kind == ParticipantDecision::Kind::kPartial ? "partial"
                                                                     : "fail";
  const char* algorithm = d.algorithm == AllreduceAlgorithm::kTree   ? "tree"
                          : d.algorithm == AllreduceAlgorithm::kRing ? "ring"
                                                                     : "-";
  std::string bits;
  for (bool b : d.set) bits += b ? '1' : '0';
  // %.17g round-trips the planning time exactly, so contact-aware subset plans agree.
  return absl::StrFormat("%s %s %s %.17g %s", kind, bits, algorithm, d.planning_t_s, d.reason);
}

absl::StatusOr<ParticipantDecision> DecodeDecision(const std::string& text, int n) {
  const std::vector<std::string> parts = absl::StrSplit(text, absl::MaxSplits(' ', 4));
  const auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("bad partial-allreduce decision \"", text, "\" for ", n, " ranks"));
  };
  ParticipantDecision d;
  if (parts.size() < 4 || static_cast<int>(parts[1].size()) != n ||
      !absl::SimpleAtod(parts[3], &d.planning_t_s)) {
    return bad();
  }
  if (parts[0] == "all") {
    d.kind = ParticipantDecision::Kind::kAll;
  } else if (parts[0] == "partial") {
    d.kind = ParticipantDecision::Kind::kPartial;
  } else if (parts[0] == "fail") {
    d.kind = ParticipantDecision::Kind::kFail;
  } else {
    return bad();
  }
  for (char c : parts[1]) {
    if (c != '0' && c != '1') return bad();
    d.set.push_back(c == '1');
  }
  if (parts[2] == "tree") {
    d.algorithm = AllreduceAlgorithm::kTree;
  } else if (parts[2] == "ring") {
    d.algorithm = AllreduceAlgorithm::kRing;
  } else if (parts[2] != "-") {
    return bad();
  }
  if (parts.size() > 4) d.reason = parts[4];
  return d;
}

std::string ExclusionReasons(const std::vector<std::optional<std::string>>& states,
                             const std::vector<bool>& set,
                             const std::vector<std::optional<std::string>>& dead_reasons) {
  const int n = static_cast<int>(set.size());
  std::vector<std::string> reasons;
  for (int p = 0; p < n; ++p) {
    if (set[p]) continue;
    if (dead_reasons[p].has_value()) {
      reasons.push_back(absl::StrCat("rank ", p, " was declared dead (", *dead_reasons[p], ")"));
    } else if (!states[p].has_value()) {
      reasons.push_back(absl::StrCat("rank ", p, " had not entered the collective by the cutoff"));
    } else {
      std::vector<int> down;
      for (int q = 0; q < n; ++q) {
        if (q == p || !set[q]) continue;
        const bool p_sees = (*states[p])[q] == '1';
        const bool q_sees = states[q].has_value() && (*states[q])[p] == '1';
        if (!p_sees || !q_sees) down.push_back(q);
      }
      reasons.push_back(absl::StrCat("rank ", p, "'s links to ranks ", RankList(down),
                                     " were down until the cutoff"));
    }
  }
  return absl::StrJoin(reasons, "; ");
}

absl::Time PartialCutoff(double estimate_s, absl::Time start, absl::Time deadline) {
  const absl::Duration reserve =
      absl::Seconds(2 * estimate_s) + std::min((deadline - start) / 5, absl::Seconds(1));
  return deadline - reserve;
}

CollectiveSpec ParticipantSpec(const CollectiveSpec& spec, const ParticipantDecision& decision) {
  CollectiveSpec out = spec;
  if (decision.kind != ParticipantDecision::Kind::kAll) out.participants = Members(decision.set);
  // A contact-aware spec leaves ring or tree to the contact-aware choice, which every
  // participant makes alike from the decider's planning time.
  if (!spec.contact_aware && spec.algorithm == AllreduceAlgorithm::kAuto &&
      decision.algorithm != AllreduceAlgorithm::kAuto) {
    out.algorithm = decision.algorithm;
  }
  return out;
}

}  // namespace crosslink::collectives
