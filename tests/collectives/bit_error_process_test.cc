// The bit-error process behind LinkEmulatorOptions::corruption_mtbf_s: seeded and reproducible,
// one process per link and direction, a rate of one corruption per mtbf_s over a busy link, and
// the same schedule for an emulator that starts late (a resumed link).
#include "crosslink/collectives/emulation/bit_error_process.h"

#include <vector>

#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

// Orbit times (to `step_s`) of the messages a link sending one message every step_s from 0 to
// until_s would have corrupted.
std::vector<double> CorruptedTimes(BitErrorProcess p, double from_s, double until_s,
                                   double step_s) {
  std::vector<double> times;
  ByteFlip flip;
  for (double t = from_s; t < until_s; t += step_s) {
    if (p.Corrupts(t, 1000, &flip)) {
      EXPECT_LT(flip.offset, 1000u);
      EXPECT_NE(flip.mask, 0);
      EXPECT_EQ(flip.mask & (flip.mask - 1), 0) << "one bit per corruption";
      times.push_back(t);
    }
  }
  return times;
}

TEST(BitErrorProcessTest, SameSeedAndLinkGiveTheSameSchedule) {
  const auto a = CorruptedTimes(BitErrorProcess(7, "P0S0 - P0S1", 5.0), 0, 2000, 0.25);
  const auto b = CorruptedTimes(BitErrorProcess(7, "P0S0 - P0S1", 5.0), 0, 2000, 0.25);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  // Another seed, or the other direction of the same link, draws its own schedule.
  EXPECT_NE(a, CorruptedTimes(BitErrorProcess(8, "P0S0 - P0S1", 5.0), 0, 2000, 0.25));
  EXPECT_NE(a, CorruptedTimes(BitErrorProcess(7, "P0S1 - P0S0", 5.0), 0, 2000, 0.25));
}

TEST(BitErrorProcessTest, BusyLinkSeesAboutOneCorruptionPerMtbf) {
  // 10,000 expected; a Poisson count's standard deviation is 100, so 5 % is 5 sigma.
  const double mtbf_s = 10, duration_s = 100'000;
  const auto times = CorruptedTimes(BitErrorProcess(3, "a - b", mtbf_s), 0, duration_s, 0.1);
  EXPECT_NEAR(static_cast<double>(times.size()), duration_s / mtbf_s, 0.05 * duration_s / mtbf_s);
}

TEST(BitErrorProcessTest, LateStartContinuesTheSameSchedule) {
  // A link resumed at orbit time 5,000 s gets a new emulator: it must corrupt what the first one
  // would have, not restart the process (which would make corruptions depend on reconnects).
  const auto whole = CorruptedTimes(BitErrorProcess(11, "x - y", 2.0), 0, 10'000, 0.5);
  const auto late = CorruptedTimes(BitErrorProcess(11, "x - y", 2.0, 5000), 5000, 10'000, 0.5);
  std::vector<double> tail;
  for (double t : whole) {
    if (t >= 5000) tail.push_back(t);
  }
  ASSERT_FALSE(tail.empty());
  // The first message after the start may differ (the old emulator carried an instant over from
  // before 5,000 s that the new one never saw); the rest are identical.
  ASSERT_GE(late.size(), tail.size() - 1);
  EXPECT_EQ(std::vector<double>(late.end() - (tail.size() - 1), late.end()),
            std::vector<double>(tail.begin() + 1, tail.end()));
}

TEST(BitErrorProcessTest, EmptyMessagesAreNeverCorruptedAndKeepTheInstantArmed) {
  BitErrorProcess p(5, "a - b", 1.0);
  const double first = p.next_s();
  ByteFlip flip;
  EXPECT_FALSE(p.Corrupts(first + 1, 0, &flip));
  EXPECT_EQ(p.next_s(), first);
  EXPECT_TRUE(p.Corrupts(first + 1, 8, &flip));
  EXPECT_GT(p.next_s(), first + 1);
}

}  // namespace
}  // namespace crosslink::collectives
