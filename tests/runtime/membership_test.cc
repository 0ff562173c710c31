// Membership: the view of who is in a job. The property the elastic communicator relies on:
// FirstDeathAfter(epoch) names exactly the deaths that a view of that epoch does not know, in the
// order they happened.
#include "crosslink/runtime/membership.h"

#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

Membership TwoDeaths() {
  Membership m;
  m.epoch = 3;
  m.alive_ranks = {0, 3};
  m.dead_ranks = {{.rank = 2, .reason = "rank 2 was killed by signal 9", .epoch = 2},
                  {.rank = 1, .reason = "rank 1 exited with status 9", .epoch = 3}};
  return m;
}

TEST(MembershipTest, FirstDeathAfterNamesTheDeathsAnOlderViewMissed) {
  const Membership m = TwoDeaths();
  ASSERT_NE(m.FirstDeathAfter(0), nullptr);
  EXPECT_EQ(m.FirstDeathAfter(0)->rank, 2);  // every death for 0, the first first
  ASSERT_NE(m.FirstDeathAfter(1), nullptr);
  EXPECT_EQ(m.FirstDeathAfter(1)->rank, 2);
  ASSERT_NE(m.FirstDeathAfter(2), nullptr);
  EXPECT_EQ(m.FirstDeathAfter(2)->rank, 1);  // a view of epoch 2 knows rank 2 is dead
  EXPECT_EQ(m.FirstDeathAfter(3), nullptr);  // the current view knows every death
}

TEST(MembershipTest, NoDeathsMeansNothingAfterAnyEpoch) {
  Membership m;
  m.epoch = 1;
  m.alive_ranks = {0, 1};
  EXPECT_EQ(m.FirstDeathAfter(0), nullptr);
  EXPECT_EQ(m.FirstDeathAfter(1), nullptr);
}

}  // namespace
}  // namespace crosslink::runtime
