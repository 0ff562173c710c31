#include "crosslink/collectives/planning/participant_policy.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

std::vector<std::vector<bool>> Matrix(int n, const std::vector<std::pair<int, int>>& down) {
  std::vector<std::vector<bool>> up(n, std::vector<bool>(n, true));
  for (auto [a, b] : down) up[a][b] = up[b][a] = false;
  return up;
}

TEST(ParticipantPolicyTest, LargestUpCliqueDropsTheFewestRanks) {
  const std::vector<bool> all(5, true);
  // Rank 2 sees nobody: the other four are the clique.
  std::vector<bool> best = LargestUpClique(Matrix(5, {{2, 0}, {2, 1}, {2, 3}, {2, 4}}), all);
  EXPECT_EQ(Members(best), (std::vector<int>{0, 1, 3, 4}));
  // One broken pair: drop one end, the lower set wins ties.
  best = LargestUpClique(Matrix(5, {{1, 3}}), all);
  EXPECT_EQ(Members(best), (std::vector<int>{0, 1, 2, 4}));
  // Non-candidates never join.
  std::vector<bool> candidate(5, true);
  candidate[0] = false;
  EXPECT_EQ(Members(LargestUpClique(Matrix(5, {}), candidate)), (std::vector<int>{1, 2, 3, 4}));
}

TEST(ParticipantPolicyTest, GreedyPeelAboveTheExactLimitStillGivesAClique) {
  const int n = kExactCliqueMaxRanks + 4;
  std::vector<std::pair<int, int>> down;
  for (int p = 1; p < n; ++p) down.push_back({0, p});  // rank 0 isolated
  down.push_back({5, 6});
  const std::vector<std::vector<bool>> up = Matrix(n, down);
  const std::vector<int> members = Members(LargestUpClique(up, std::vector<bool>(n, true)));
  EXPECT_EQ(static_cast<int>(members.size()), n - 2);
  for (int a : members) {
    for (int b : members) EXPECT_TRUE(a == b || up[a][b]) << a << "-" << b;
  }
}

TEST(ParticipantPolicyTest, DecisionsRoundTripAndGarbageIsRejected) {
  ParticipantDecision d;
  d.kind = ParticipantDecision::Kind::kPartial;
  d.set = {true, false, true};
  d.algorithm = AllreduceAlgorithm::kTree;
  d.planning_t_s = 1234.000000000123;
  d.reason = "rank 1's links to ranks {0,2} were down until the cutoff";
  absl::StatusOr<ParticipantDecision> back = DecodeDecision(EncodeDecision(d), 3);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->kind, d.kind);
  EXPECT_EQ(back->set, d.set);
  EXPECT_EQ(back->algorithm, d.algorithm);
  EXPECT_EQ(back->planning_t_s, d.planning_t_s);  // exact: subset plans must agree
  EXPECT_EQ(back->reason, d.reason);
  for (const char* bad : {"", "all", "all 101 ring", "maybe 101 ring 0", "all 10 ring 0",
                          "all 1x1 ring 0", "all 101 ring zero", "all 101 spiral 0"}) {
    EXPECT_EQ(DecodeDecision(bad, 3).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

class FixedTimeline final : public LinkTimeline {
 public:
  explicit FixedTimeline(LinkWindow window) : window_(std::move(window)) {}
  LinkWindow At(double) const override { return window_; }
  std::string Describe() const override { return "fixed"; }

 private:
  LinkWindow window_;
};

TEST(ParticipantPolicyTest, ObserveLinksReadsTimelinesAndTheDead) {
  std::vector<std::shared_ptr<const LinkTimeline>> timelines(4);
  timelines[1] = std::make_shared<FixedTimeline>(LinkWindow{false, 0, 0, 12.5, "occluded"});
  timelines[2] = std::make_shared<FixedTimeline>(LinkWindow{true, 0.01, 1e9, 40.0, "up"});
  const std::vector<bool> dead{false, false, false, true};
  LinkObservation seen = ObserveLinks(0, timelines, dead, 10.0);
  EXPECT_EQ(seen.bits, "1010");
  EXPECT_EQ(seen.until_s, 12.5);
  // Without a clock every live link counts as up.
  seen = ObserveLinks(0, timelines, dead, std::nullopt);
  EXPECT_EQ(seen.bits, "1110");
}

TEST(ParticipantPolicyTest, ReasonsNameWhyEachRankIsOut) {
  std::vector<std::optional<std::string>> states{"111", "011", std::nullopt};
  const std::string reasons =
      ExclusionReasons(states, {true, false, false}, {std::nullopt, std::nullopt, std::nullopt});
  EXPECT_NE(reasons.find("rank 1's links to ranks {0}"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("rank 2 had not entered"), std::string::npos) << reasons;
  const std::string dead =
      ExclusionReasons(states, {true, true, false}, {std::nullopt, std::nullopt, "SIGKILL"});
  EXPECT_NE(dead.find("rank 2 was declared dead (SIGKILL)"), std::string::npos) << dead;
}

TEST(ParticipantPolicyTest, ParticipantSpecAndCutoff) {
  CollectiveSpec spec;
  spec.world_size = 4;
  ParticipantDecision d;
  d.kind = ParticipantDecision::Kind::kPartial;
  d.set = {true, false, true, true};
  d.algorithm = AllreduceAlgorithm::kTree;
  CollectiveSpec subset = ParticipantSpec(spec, d);
  EXPECT_EQ(subset.participants, (std::vector<int>{0, 2, 3}));
  EXPECT_EQ(subset.algorithm, AllreduceAlgorithm::kTree);
  d.kind = ParticipantDecision::Kind::kAll;
  EXPECT_TRUE(ParticipantSpec(spec, d).participants.empty());
  spec.contact_aware = true;  // the contact-aware choice picks ring or tree itself
  EXPECT_EQ(ParticipantSpec(spec, d).algorithm, AllreduceAlgorithm::kAuto);

  const absl::Time start = absl::FromUnixSeconds(1000);
  // 10 s allowed: reserve 2 x 0.5 s + min(2 s, 1 s).
  EXPECT_EQ(PartialCutoff(0.5, start, start + absl::Seconds(10)), start + absl::Seconds(8));
  // 1 s allowed: reserve 0 + 0.2 s.
  EXPECT_EQ(PartialCutoff(0, start, start + absl::Seconds(1)), start + absl::Milliseconds(800));
}

}  // namespace
}  // namespace crosslink::collectives
