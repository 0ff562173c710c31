// The campaign's seeded pieces: the schedule replays from its seed and draws every kind, and the
// worker's event lines survive a round trip (a line that is not an event is never taken for one).
#include "bench/chaos/fault_schedule.h"

#include <set>
#include <vector>

#include "bench/chaos/worker_events.h"
#include "gtest/gtest.h"

namespace crosslink::chaos {
namespace {

std::vector<std::pair<FaultKind, int>> Draw(uint64_t seed, int n) {
  FaultSchedule schedule(seed, 4, FaultWeights{});
  std::vector<std::pair<FaultKind, int>> faults;
  for (int i = 0; i < n; ++i) {
    const ScheduledFault f = schedule.Next();
    faults.emplace_back(f.kind, f.rank);
  }
  return faults;
}

TEST(FaultScheduleTest, SameSeedSameScheduleEveryDriverKindAndRankDrawn) {
  const auto a = Draw(5, 400);
  EXPECT_EQ(a, Draw(5, 400));
  EXPECT_NE(a, Draw(6, 400));
  std::set<FaultKind> kinds;
  std::set<int> ranks;
  for (const auto& [kind, rank] : a) {
    EXPECT_TRUE(DriverInjected(kind));
    kinds.insert(kind);
    ranks.insert(rank);
  }
  EXPECT_EQ(kinds.size(), 4u);
  EXPECT_EQ(ranks, (std::set<int>{0, 1, 2, 3}));
}

TEST(FaultScheduleTest, ZeroWeightKindsAreNeverDrawn) {
  FaultSchedule schedule(1, 3,
                         FaultWeights{.kill = 1, .stop = 0, .coordinator = 0, .late_join = 0});
  for (int i = 0; i < 200; ++i) EXPECT_EQ(schedule.Next().kind, FaultKind::kRankKill);
}

TEST(WorkerEventsTest, RoundTripAndRejection) {
  WorkerEvent step{.kind = EventKind::kStep,
                   .t_us = 1700000000123456,
                   .step = 42,
                   .epoch = 7,
                   .live = 3,
                   .dur_us = 1500,
                   .outages = 2};
  std::optional<WorkerEvent> parsed = ParseEvent(FormatEvent(step));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->kind, EventKind::kStep);
  EXPECT_EQ(parsed->t_us, step.t_us);
  EXPECT_EQ(parsed->step, 42);
  EXPECT_EQ(parsed->epoch, 7);
  EXPECT_EQ(parsed->live, 3);
  EXPECT_EQ(parsed->dur_us, 1500);
  EXPECT_EQ(parsed->outages, 2);
  const WorkerEvent error{.kind = EventKind::kError,
                          .stage = "allreduce",
                          .code = "ABORTED",
                          .msg = "rank 2 died (was killed\nby signal 9)"};
  parsed = ParseEvent(FormatEvent(error));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->stage, "allreduce");
  EXPECT_EQ(parsed->code, "ABORTED");
  EXPECT_EQ(parsed->msg, "rank 2 died (was killed by signal 9)");  // one line
  const WorkerEvent final_event{.kind = EventKind::kFinal, .step = 9, .hash = ~uint64_t{0}};
  parsed = ParseEvent(FormatEvent(final_event));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->hash, ~uint64_t{0});
  EXPECT_FALSE(ParseEvent("I1205 some runtime log line").has_value());
  EXPECT_FALSE(ParseEvent("chaos nonsense t_us=1").has_value());
  EXPECT_FALSE(ParseEvent("chaos step t_us=abc").has_value());
  EXPECT_FALSE(ParseEvent("chaos step bogus=1").has_value());
}

}  // namespace
}  // namespace crosslink::chaos
