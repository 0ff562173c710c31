// The link emulator reproduces a timeline's latency, rate and outages in wall time, measured
// end to end over an in-process connection.
#include "crosslink/collectives/emulation/link_emulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/time/clock.h"
#include "crosslink/collectives/emulation/bit_error_process.h"
#include "crosslink/collectives/emulation/link_timeline.h"
#include "crosslink/collectives/emulation/scenario_clock.h"
#include "crosslink/collectives/transport/crc32c.h"
#include "crosslink/collectives/transport/inproc_transport.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

constexpr uint64_t kJob = 7;
absl::Time In(absl::Duration d) { return absl::Now() + d; }

struct EmulatedPair {
  std::unique_ptr<LinkEmulator> a;  // rank 0, emulated outgoing
  std::unique_ptr<Connection> b;    // rank 1 (emulated too when both_ways)
};

EmulatedPair Make(std::shared_ptr<const LinkTimeline> timeline,
                  std::shared_ptr<const ScenarioClock> clock, OutageMode mode,
                  bool both_ways = false) {
  auto [a, b] = MakeInProcPair(0, 1, kJob);
  EmulatedPair p;
  p.a = std::make_unique<LinkEmulator>(std::move(a), timeline, clock,
                                       LinkEmulatorOptions{.mode = mode});
  p.b = both_ways ? std::make_unique<LinkEmulator>(std::move(b), timeline, clock,
                                                   LinkEmulatorOptions{.mode = mode})
                  : std::move(b);
  return p;
}

std::shared_ptr<const LinkTimeline> Up(double latency_s, double rate_bps) {
  return std::make_shared<PiecewiseTimeline>(
      PiecewiseTimeline::AlwaysUp("test", latency_s, rate_bps));
}

std::shared_ptr<const LinkTimeline> Pieces(std::vector<PiecewiseTimeline::Piece> pieces) {
  auto t = PiecewiseTimeline::Create("sat-a - sat-b", std::move(pieces));
  EXPECT_TRUE(t.ok()) << t.status();
  return std::make_shared<PiecewiseTimeline>(*std::move(t));
}

// Wall time to move `out` into `in` over an ideal link (no rate, no latency): the copy and the
// checksums, which the emulated times below come on top of. The least of three runs, since a
// preempted run on a shared machine would make the baseline too large.
double IdealTransferSeconds(std::vector<std::byte>& out, std::vector<std::byte>& in) {
  double best_s = std::numeric_limits<double>::infinity();
  for (int run = 0; run < 3; ++run) {
    auto clock = std::make_shared<ScenarioClock>(0.0, 1.0);
    auto p = Make(Up(0.0, 0.0), clock, OutageMode::kHold);
    auto r = p.b->Recv(absl::MakeSpan(in));
    const absl::Time start = absl::Now();
    p.a->Send(FrameHeader{}, out);
    EXPECT_TRUE(r->Wait(In(absl::Seconds(10))).ok());
    best_s = std::min(best_s, absl::ToDoubleSeconds(absl::Now() - start));
  }
  return best_s;
}

TEST(ScenarioClockTest, MapsWallToOrbitAndBackWithAnInjectedSource) {
  absl::Time now = absl::FromUnixSeconds(1000);
  const ScenarioClock clock(500.0, 60.0, absl::FromUnixSeconds(1000), [&] { return now; });
  EXPECT_DOUBLE_EQ(clock.OrbitNow(), 500.0);
  now += absl::Seconds(2);
  EXPECT_DOUBLE_EQ(clock.OrbitNow(), 620.0);
  EXPECT_EQ(clock.WallAt(620.0), now);
  EXPECT_NEAR(clock.OrbitAt(clock.WallAt(1234.5)), 1234.5, 1e-6);
  EXPECT_EQ(clock.WallAt(std::numeric_limits<double>::infinity()), absl::InfiniteFuture());
}

// Median round trip of a 64-byte ping over a link emulated both ways. The median, because on a
// shared machine a preempted thread now and then adds a scheduler slice to one ping.
double MedianRoundTripSeconds(double latency_s) {
  auto clock = std::make_shared<ScenarioClock>(0.0, 1.0);
  auto p = Make(Up(latency_s, 0), clock, OutageMode::kHold, /*both_ways=*/true);
  std::vector<std::byte> ping(64), pong(64);
  constexpr int kPings = 21;
  std::vector<double> rtt_s;
  for (int i = 0; i < kPings; ++i) {
    const absl::Time start = absl::Now();
    auto r = p.b->Recv(absl::MakeSpan(pong));
    p.a->Send(FrameHeader{}, ping);
    EXPECT_TRUE(r->Wait(In(absl::Seconds(5))).ok());
    auto back = p.a->Recv(absl::MakeSpan(ping));
    p.b->Send(FrameHeader{}, pong);
    EXPECT_TRUE(back->Wait(In(absl::Seconds(5))).ok());
    rtt_s.push_back(absl::ToDoubleSeconds(absl::Now() - start));
  }
  std::nth_element(rtt_s.begin(), rtt_s.begin() + kPings / 2, rtt_s.end());
  return rtt_s[kPings / 2];
}

TEST(LinkEmulatorTest, PingRoundTripIsTwiceTheOneWayLatency) {
  // The thread hand-offs of an ideal emulated link (tens of microseconds, more on a loaded
  // machine) come on top of the emulated latency; the emulator must add the latency itself.
  const double base_s = MedianRoundTripSeconds(0.0);
  const double rtt_s = MedianRoundTripSeconds(0.005);
  EXPECT_NEAR(rtt_s - base_s, 0.010, 0.010 * 0.05)
      << "median round trip " << rtt_s * 1e3 << " ms, ideal link " << base_s * 1e3 << " ms";
}

TEST(LinkEmulatorTest, LargeMessageTakesItsSerialisationTime) {
  std::vector<std::byte> out(8 << 20), in(8 << 20);
  const double ideal_s = IdealTransferSeconds(out, in);
  auto clock = std::make_shared<ScenarioClock>(0.0, 1.0);
  auto p = Make(Up(0.0, 200e6), clock, OutageMode::kHold);
  auto r = p.b->Recv(absl::MakeSpan(in));
  const absl::Time start = absl::Now();
  p.a->Send(FrameHeader{}, out);
  ASSERT_TRUE(r->Wait(In(absl::Seconds(10))).ok());
  const double took_s = absl::ToDoubleSeconds(absl::Now() - start) - ideal_s;
  const double expected_s = (8 << 20) * 8.0 / 200e6;  // 0.336 s
  EXPECT_NEAR(took_s, expected_s, expected_s * 0.05);
  EXPECT_EQ(p.a->counters().outages_met, 0);
}

TEST(LinkEmulatorTest, LatencyIsPipelinedNotSerialised) {
  auto clock = std::make_shared<ScenarioClock>(0.0, 1.0);
  auto p = Make(Up(0.050, 0), clock, OutageMode::kHold);
  std::vector<std::byte> out(1024);
  std::vector<std::vector<std::byte>> in(10, std::vector<std::byte>(1024));
  std::vector<std::shared_ptr<RecvHandle>> recvs;
  for (auto& buf : in) recvs.push_back(p.b->Recv(absl::MakeSpan(buf)));
  const absl::Time start = absl::Now();
  for (int i = 0; i < 10; ++i) p.a->Send(FrameHeader{.chunk = static_cast<uint32_t>(i)}, out);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(recvs[i]->Wait(In(absl::Seconds(5))).ok());
    EXPECT_EQ(recvs[i]->header().chunk, static_cast<uint32_t>(i));
  }
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(50));
  EXPECT_LT(took, absl::Milliseconds(80)) << "ten messages cost ten latencies";
}

TEST(LinkEmulatorTest, HoldResumesTheMessageWhenTheLinkReturns) {
  std::vector<std::byte> out(8 << 20), in(8 << 20);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 7);
  const double ideal_s = IdealTransferSeconds(out, in);
  std::fill(in.begin(), in.end(), std::byte{0});
  // At 100 orbit seconds per wall second: up for 0.1 s wall, down 0.2 s, then up for good.
  auto clock = std::make_shared<ScenarioClock>(0.0, 100.0);
  auto p =
      Make(Pieces({{0, true, 0.0, 200e6}, {10, false, 0, 0, "occluded"}, {30, true, 0.0, 200e6}}),
           clock, OutageMode::kHold);
  auto r = p.b->Recv(absl::MakeSpan(in));
  const absl::Time start = clock->wall_start();
  p.a->Send(FrameHeader{}, out);
  const double send_at_s = absl::ToDoubleSeconds(absl::Now() - start);
  ASSERT_TRUE(r->Wait(In(absl::Seconds(10))).ok());
  const double took_s = absl::ToDoubleSeconds(absl::Now() - start) - ideal_s;
  const double expected_s = (8 << 20) * 8.0 / 200e6 + 0.2;  // serialisation plus the outage
  EXPECT_NEAR(took_s, expected_s, expected_s * 0.05);
  EXPECT_TRUE(in == out);
  const LinkEmulatorCounters c = p.a->counters();
  EXPECT_EQ(c.outages_met, 1);
  EXPECT_NEAR(absl::ToDoubleSeconds(c.time_held), 0.2, 0.01);
  // About 0.1 s worth of bytes (2.5 MB) left before the outage; the rest was held.
  EXPECT_NEAR(static_cast<double>(c.bytes_held), (8 << 20) - (0.1 - send_at_s) * 200e6 / 8,
              0.02 * (8 << 20));
}

TEST(LinkEmulatorTest, CutFailsBothEndsWithUnavailable) {
  auto clock = std::make_shared<ScenarioClock>(0.0, 100.0);
  auto p = Make(Pieces({{0, true, 0.0, 200e6}, {10, false, 0, 0, "sun"}, {30, true, 0.0, 200e6}}),
                clock, OutageMode::kCut);
  std::vector<std::byte> out(8 << 20), in(8 << 20);
  auto r = p.b->Recv(absl::MakeSpan(in));
  auto s = p.a->Send(FrameHeader{}, out);
  const absl::Status sent = s->Wait(In(absl::Seconds(10)));
  EXPECT_EQ(sent.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(sent.message().find("sat-a - sat-b"), std::string::npos) << sent;
  EXPECT_NE(sent.message().find("orbit t="), std::string::npos) << sent;
  EXPECT_EQ(r->Wait(In(absl::Seconds(10))).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(p.a->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(p.a->counters().outages_met, 1);
}

TEST(LinkEmulatorTest, DeadlinesHoldWhileTheLinkIsDown) {
  auto clock = std::make_shared<ScenarioClock>(0.0, 1.0);
  auto p = Make(Pieces({{0, false, 0, 0, "acquiring"}}), clock, OutageMode::kHold);
  std::vector<std::byte> out(100);
  auto s = p.a->Send(FrameHeader{}, out);
  const absl::Time start = absl::Now();
  EXPECT_EQ(s->Wait(start + absl::Milliseconds(50)).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_FALSE(s->Done());
  p.a->Close();
  EXPECT_EQ(s->Wait(In(absl::Seconds(1))).code(), absl::StatusCode::kUnavailable);
}

TEST(LinkEmulatorTest, ZeroLengthMessagesWaitForTheLinkToo) {
  auto clock = std::make_shared<ScenarioClock>(0.0, 100.0);
  auto p = Make(Pieces({{0, false, 0, 0, "acquiring"}, {5, true, 0.001, 1e9}}), clock,
                OutageMode::kHold);
  std::vector<std::byte> in(1);
  auto r = p.b->Recv(absl::MakeSpan(in));
  p.a->Send(FrameHeader{.tag = 3}, {});
  ASSERT_TRUE(r->Wait(In(absl::Seconds(5))).ok());
  EXPECT_GE(absl::Now() - clock->wall_start(), absl::Milliseconds(50));
  EXPECT_EQ(r->header().tag, 3u);
  EXPECT_EQ(r->header().length, 0u);
}

// Bit errors (corruption_mtbf_s): a corrupted message reaches the receiver as kDataLoss naming
// the connection, never as wrong bytes; the sender's buffer is untouched.
TEST(LinkEmulatorTest, BitErrorIsDataLossAtTheReceiverNeverAWrongPayload) {
  auto clock = std::make_shared<ScenarioClock>(0.0, 1.0);
  auto [a, b] = MakeInProcPair(0, 1, kJob);
  // An instant within the first microsecond of orbit time: the first message is hit.
  LinkEmulator emulator(std::move(a), Up(0.0, 0.0), clock,
                        LinkEmulatorOptions{.corruption_mtbf_s = 1e-7, .corruption_seed = 3});
  std::vector<std::byte> out(4096);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 7);
  const std::vector<std::byte> sent = out;
  std::vector<std::byte> in(out.size());
  absl::SleepFor(absl::Microseconds(10));
  auto r = b->Recv(absl::MakeSpan(in));
  emulator.Send(FrameHeader{.tag = 1}, out)->Wait(In(absl::Seconds(10))).IgnoreError();
  const absl::Status received = r->Wait(In(absl::Seconds(10)));
  EXPECT_EQ(received.code(), absl::StatusCode::kDataLoss) << received;
  EXPECT_NE(received.message().find("rank 1"), std::string::npos) << received;
  EXPECT_EQ(out, sent) << "the caller's buffer must not be corrupted";
  EXPECT_EQ(emulator.counters().corruptions, 1);
  // SendWithCrc too: the caller's CRC travels, so the flipped copy fails the same check.
  auto [c, d] = MakeInProcPair(0, 1, kJob);
  LinkEmulator with_crc(std::move(c), Up(0.0, 0.0), clock,
                        LinkEmulatorOptions{.corruption_mtbf_s = 1e-7, .corruption_seed = 3});
  absl::SleepFor(absl::Microseconds(10));
  auto r2 = d->Recv(absl::MakeSpan(in));
  with_crc.SendWithCrc(FrameHeader{.tag = 2}, out, Crc32c(out))
      ->Wait(In(absl::Seconds(10)))
      .IgnoreError();
  EXPECT_EQ(r2->Wait(In(absl::Seconds(10))).code(), absl::StatusCode::kDataLoss);
}

// Index of the first message (one every orbit second, from orbit time 0) that arrives as
// kDataLoss over an emulated link with bit errors, or -1 when `messages` arrive intact.
int FirstCorruptedMessage(uint64_t seed, double mtbf_s, int messages) {
  // The hand-driven clock runs in the past, so that every delivery is due at once.
  absl::Time now = absl::Now() - absl::Hours(1);
  auto clock = std::make_shared<ScenarioClock>(0.0, 1.0, now, [&now] { return now; });
  auto [a, b] = MakeInProcPair(0, 1, kJob);
  LinkEmulator emulator(std::move(a), Up(0.0, 0.0), clock,
                        LinkEmulatorOptions{.corruption_mtbf_s = mtbf_s, .corruption_seed = seed});
  std::vector<std::byte> out(256, std::byte{0x5a}), in(256);
  for (int i = 0; i < messages; ++i) {
    auto r = b->Recv(absl::MakeSpan(in));
    emulator.Send(FrameHeader{.tag = static_cast<uint32_t>(i)}, out);
    const absl::Status s = r->Wait(In(absl::Seconds(10)));
    if (s.code() == absl::StatusCode::kDataLoss) return i;
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ(in, out);
    now += absl::Seconds(1);
  }
  return -1;
}

TEST(LinkEmulatorTest, BitErrorsAreSeededAndFollowTheLinksProcess) {
  // Same seed, same message; and it is the first message at or after the process's first
  // instant for this link ("test", the timeline's name), whatever the wall clock did.
  const int first = FirstCorruptedMessage(21, 30.0, 400);
  ASSERT_GE(first, 0);
  EXPECT_EQ(FirstCorruptedMessage(21, 30.0, 400), first);
  EXPECT_EQ(first, static_cast<int>(std::ceil(BitErrorProcess(21, "test", 30.0).next_s())));
  // Without bit errors nothing is corrupted.
  EXPECT_EQ(FirstCorruptedMessage(21, 0.0, 200), -1);
}

}  // namespace
}  // namespace crosslink::collectives
