// ExpiringTimeline: the detour the runtime takes while a direct link is down serves only until
// the direct link returns. Before expiry it is the inner timeline (its windows clipped to the
// expiry), from then on it is down for good with a state that says why, so a cut-mode link
// emulator fails the first message after expiry (which makes the resumable connection choose the
// direct link again) and delivers every message before it.
#include "crosslink/collectives/emulation/expiring_timeline.h"

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "crosslink/collectives/emulation/link_emulator.h"
#include "crosslink/collectives/emulation/resume_route.h"
#include "crosslink/collectives/emulation/scenario_clock.h"
#include "crosslink/collectives/transport/inproc_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

using ::testing::HasSubstr;
constexpr double kInf = std::numeric_limits<double>::infinity();

std::shared_ptr<const LinkTimeline> Pieces(std::string name,
                                           std::vector<PiecewiseTimeline::Piece> pieces) {
  auto t = PiecewiseTimeline::Create(std::move(name), std::move(pieces));
  EXPECT_TRUE(t.ok()) << t.status();
  return std::make_shared<PiecewiseTimeline>(*std::move(t));
}

TEST(ExpiringTimelineTest, FollowsTheInnerTimelineUntilExpiryThenIsDownForGood) {
  // Detour: up with 20 ms until 40 s, down ("occluded") until 50 s, up again.
  auto detour =
      Pieces("sat-a - sat-b (detour)",
             {{0, true, 0.020, 1e9}, {40, false, 0, 0, "occluded"}, {50, true, 0.025, 1e9}});
  const ExpiringTimeline expiring(detour, 45.0, "the direct link is back at t=45.000 s");
  EXPECT_EQ(expiring.Describe(), "sat-a - sat-b (detour)");

  LinkWindow w = expiring.At(10);
  EXPECT_TRUE(w.up);
  EXPECT_DOUBLE_EQ(w.latency_s, 0.020);
  EXPECT_DOUBLE_EQ(w.until_s, 40);  // the inner change comes first
  w = expiring.At(42);
  EXPECT_FALSE(w.up);
  EXPECT_EQ(w.state, "occluded");
  EXPECT_DOUBLE_EQ(w.until_s, 45);  // clipped: at 45 the state changes to retired
  for (double t : {45.0, 47.0, 60.0, 1e6}) {
    w = expiring.At(t);
    EXPECT_FALSE(w.up) << t;
    EXPECT_EQ(w.until_s, kInf) << t;
    EXPECT_THAT(w.state, HasSubstr("retired: the direct link is back")) << t;
  }
  // Never expiring: the inner timeline exactly.
  const ExpiringTimeline forever(detour, kInf, "never");
  EXPECT_TRUE(forever.At(1e6).up);
  EXPECT_DOUBLE_EQ(forever.At(10).until_s, 40);
}

TEST(ExpiringTimelineTest, CutModeEmulatorDeliversBeforeExpiryAndCutsAfterItForTheDirectLink) {
  // Orbit time runs 100x faster than wall time, on a wall clock the test moves by hand: orbit
  // time stands at 0 until the test steps past the expiry at t=2 s. (On the real clock the expiry
  // was 20 ms of wall time away, and a loaded machine or ASan's slowdown let the first send miss
  // it.)
  const absl::Time wall_start = absl::Now();
  auto wall_elapsed_ns = std::make_shared<std::atomic<int64_t>>(0);
  auto clock =
      std::make_shared<ScenarioClock>(0.0, 100.0, wall_start, [wall_start, wall_elapsed_ns] {
        return wall_start + absl::Nanoseconds(wall_elapsed_ns->load());
      });
  auto direct = Pieces("sat-a - sat-b", {{0, false, 0, 0, "fault"}, {2, true, 0.001, 1e9}});
  auto detour = Pieces("sat-a - sat-b (detour)", {{0, true, 0.0, 1e9}});
  // What the runtime's reconnect decides at t=0: the detour, until the direct link is back.
  const ResumeRoute route = ChooseResumeRoute(*direct, detour.get(), clock->OrbitNow());
  ASSERT_EQ(route.kind, ResumeRoute::Kind::kDetour) << route.reason;
  EXPECT_DOUBLE_EQ(route.wait_until_s, 2.0);
  auto timeline =
      std::make_shared<ExpiringTimeline>(detour, route.wait_until_s, "the direct link is back");

  auto [a, b] = MakeInProcPair(0, 1, /*job_id=*/7);
  LinkEmulator emulated(std::move(a), timeline, clock,
                        LinkEmulatorOptions{.mode = OutageMode::kCut});
  std::vector<std::byte> out(1000, std::byte{7}), in(1000);
  auto r = b->Recv(absl::MakeSpan(in));
  const absl::Status sent = emulated.Send(FrameHeader{}, out)->Wait(absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(sent.ok()) << sent;
  const absl::Status received = r->Wait(absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(received.ok()) << received;
  EXPECT_TRUE(in == out);

  // Past the expiry the detour cuts the next message, naming why; the direct link is up then.
  wall_elapsed_ns->store(absl::ToInt64Nanoseconds(clock->WallAt(2.0) - wall_start) + 5'000'000);
  const absl::Status cut = emulated.Send(FrameHeader{}, out)->Wait(absl::Now() + absl::Seconds(5));
  EXPECT_EQ(cut.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(cut.message()), HasSubstr("retired: the direct link is back")) << cut;
  EXPECT_EQ(ChooseResumeRoute(*direct, detour.get(), clock->OrbitNow()).kind,
            ResumeRoute::Kind::kDirect);
}

}  // namespace
}  // namespace crosslink::collectives
