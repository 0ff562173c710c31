#include "bench/lib/cpu_cost.h"

#include <chrono>

#include "gtest/gtest.h"

namespace crosslink::bench {
namespace {

TEST(CpuCostTest, SecondsBetweenSamplesAddUserAndSystem) {
  const CpuSample before{1.25, 0.5};
  const CpuSample after{3.75, 1.0};
  EXPECT_DOUBLE_EQ(CpuSecondsBetween(before, after), 2.5 + 0.5);
}

TEST(CpuSecondsPerGbTest, DividesByIterationsTimesBufferInDecimalGigabytes) {
  // 4 ranks that spent 0.3 s each over 10 allreduces of 64 MiB: 1.2 s per 0.67108864 GB.
  const double cpu = 4 * 0.3;
  EXPECT_DOUBLE_EQ(CpuSecondsPerGb(cpu, int64_t{64} << 20, 10), 1.2 / (10 * 67108864 / 1e9));
  EXPECT_DOUBLE_EQ(CpuSecondsPerGb(2.0, 1000000000, 1), 2.0);
}

TEST(CpuSecondsPerGbTest, NothingReducedIsZeroNotInfinity) {
  EXPECT_EQ(CpuSecondsPerGb(1.0, 0, 10), 0);
  EXPECT_EQ(CpuSecondsPerGb(1.0, 1024, 0), 0);
}

TEST(CpuCostTest, ABusyLoopShowsUpInTheSample) {
  // Spins until the samples show 20 ms of this process's CPU (a loaded host may give the thread
  // only part of a core, so the wall time it takes is no property to test).
  const CpuSample before = SampleProcessCpu();
  volatile uint64_t spin = 0;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  double spent = 0;
  while (spent < 0.02 && std::chrono::steady_clock::now() < give_up) {
    for (int i = 0; i < 100000; ++i) spin = spin + 1;
    spent = CpuSecondsBetween(before, SampleProcessCpu());
  }
  EXPECT_GE(spent, 0.02);
}

TEST(CpuCostTest, SamplesNeverGoBackwardsNorNegative) {
  const CpuSample a = SampleProcessCpu();
  const CpuSample b = SampleProcessCpu();
  EXPECT_GE(CpuSecondsBetween(a, b), 0);
  EXPECT_EQ(CpuSecondsBetween(b, CpuSample{}), 0);  // clamped, never negative
}

}  // namespace
}  // namespace crosslink::bench
