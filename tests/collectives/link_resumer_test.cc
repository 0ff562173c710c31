// LinkResumer: after a cut, the two ends of a link come back over the same route: the direct
// link when it is up, a detour when only the detour is up, and otherwise they wait for the link's
// return (or fail by their deadline naming the wait). The new connections carry messages, and a
// wrapped link cut mid-stream delivers every message once it is back.
#include "crosslink/collectives/emulation/link_resumer.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "crosslink/collectives/emulation/link_timeline.h"
#include "crosslink/collectives/emulation/scenario_clock.h"
#include "crosslink/collectives/transport/inproc_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport_test_util.h"

namespace crosslink::collectives {
namespace {

using ::testing::HasSubstr;
using testing::In;
using testing::Pattern;

constexpr uint64_t kJob = 11;

std::shared_ptr<const LinkTimeline> Up(const std::string& name) {
  return std::make_shared<PiecewiseTimeline>(PiecewiseTimeline::AlwaysUp(name, 0.0, 0.0));
}

// Down (a fault) from the start until `until_s` orbit seconds, up afterwards.
std::shared_ptr<const LinkTimeline> DownUntil(const std::string& name, double until_s) {
  auto t = PiecewiseTimeline::Create(
      name, {{.start_s = 0, .up = false, .state = "fault"}, {.start_s = until_s, .up = true}});
  EXPECT_TRUE(t.ok()) << t.status();
  return std::make_shared<PiecewiseTimeline>(*std::move(t));
}

// Ranks 0 and 1 on one in-process hub, each with a resumer that knows the pair's timelines
// (the same for both directions), the clock at orbit time 0 now. With `wrap`, the pair is
// connected first, as a mesh is built, and each end is wrapped (wrapped_).
class LinkResumerTest : public ::testing::Test {
 protected:
  void Start(std::shared_ptr<const LinkTimeline> direct, std::shared_ptr<const LinkTimeline> detour,
             bool wrap = false) {
    auto hub = MakeInProcHub();
    for (int rank = 0; rank < 2; ++rank) {
      auto ctx = MakeInProcContext(hub, rank, kJob);
      ASSERT_TRUE(ctx.ok()) << ctx.status();
      ctx_[rank] = *std::move(ctx);
    }
    clock_ = std::make_shared<const ScenarioClock>(0.0, 1.0);
    const LinkEmulatorOptions options{.mode = OutageMode::kCut};
    std::unique_ptr<LinkEmulator> emulated[2];
    if (wrap) {
      auto dialled = ctx_[0]->Connect(1, ctx_[1]->address(), In(absl::Seconds(10)));
      ASSERT_TRUE(dialled.ok()) << dialled.status();
      auto accepted = ctx_[1]->Accept(In(absl::Seconds(10)));
      ASSERT_TRUE(accepted.ok()) << accepted.status();
      emulated[0] = std::make_unique<LinkEmulator>(*std::move(dialled), direct, clock_, options);
      emulated[1] =
          std::make_unique<LinkEmulator>(std::move(accepted->second), direct, clock_, options);
    }
    for (int rank = 0; rank < 2; ++rank) {
      std::vector<LinkResumer::Peer> peers(2);
      peers[1 - rank] = {ctx_[1 - rank]->address(), direct, detour};
      resumer_[rank] =
          std::make_unique<LinkResumer>(*ctx_[rank], rank, std::move(peers), clock_, options);
      if (wrap) wrapped_[rank] = resumer_[rank]->Wrap(1 - rank, std::move(emulated[rank]));
    }
  }

  // Both ends reconnect at once, as the two ResumableConnections of a cut link do.
  void ReconnectBoth(absl::Time deadline) {
    std::thread higher([&] { made_[1] = resumer_[1]->Reconnect(0, deadline); });
    made_[0] = resumer_[0]->Reconnect(1, deadline);
    higher.join();
  }

  // Both ends reconnect and come back over the emulated link `link`, and carry a message each
  // way.
  void ExpectBothReconnectOver(const std::string& link) {
    ReconnectBoth(In(absl::Seconds(10)));
    for (int rank = 0; rank < 2; ++rank) {
      ASSERT_TRUE(made_[rank].ok()) << made_[rank].status();
      EXPECT_THAT((*made_[rank])->Describe(), HasSubstr("emulated link " + link));
    }
    ExpectTheyTalk();
  }

  // A message each way over the reconnected pair.
  void ExpectTheyTalk() {
    for (int from = 0; from < 2; ++from) {
      Connection& out = **made_[from];
      Connection& in = **made_[1 - from];
      const std::vector<std::byte> sent = Pattern(1000, from);
      std::vector<std::byte> got(sent.size());
      auto r = in.Recv(absl::MakeSpan(got));
      ASSERT_TRUE(out.Send(FrameHeader{}, sent)->Wait(In(absl::Seconds(10))).ok());
      ASSERT_TRUE(r->Wait(In(absl::Seconds(10))).ok());
      EXPECT_TRUE(got == sent);
    }
  }

  std::shared_ptr<const ScenarioClock> clock_;  // orbit time 0 is when Start made it
  std::unique_ptr<Context> ctx_[2];
  std::unique_ptr<LinkResumer> resumer_[2];
  absl::StatusOr<std::unique_ptr<Connection>> made_[2];
  std::unique_ptr<Connection> wrapped_[2];  // declared after the resumers: destroyed first
};

TEST_F(LinkResumerTest, TakesTheDirectLinkWhenItIsUp) {
  Start(Up("direct"), Up("detour"));
  ExpectBothReconnectOver("direct");
}

TEST_F(LinkResumerTest, TakesTheDetourWhileTheDirectLinkIsDown) {
  Start(DownUntil("direct", 3600), Up("detour"));
  ExpectBothReconnectOver("detour");
}

TEST_F(LinkResumerTest, WaitsForTheLinkWhenNoRouteIsUp) {
  Start(DownUntil("direct", 0.3), nullptr);
  ExpectBothReconnectOver("direct");
  // Not before the link returned.
  EXPECT_GE(absl::Now(), clock_->WallAt(0.3));
}

TEST_F(LinkResumerTest, AWaitPastTheDeadlineIsUnavailableNamingIt) {
  Start(DownUntil("direct", 3600), nullptr);
  const absl::Time deadline = In(absl::Milliseconds(100));
  auto made = resumer_[0]->Reconnect(1, deadline);
  EXPECT_GE(absl::Now(), deadline);
  EXPECT_EQ(made.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(made.status().message(), HasSubstr("rank 0 -> rank 1: waiting for the link"));
}

// Messages sent one every 10 ms for 0.6 s (across a cut at 0.3 s) all arrive, in order and intact.
void SendAcrossTheCut(Connection& from, Connection& to) {
  constexpr int kMessages = 60;
  std::vector<std::vector<std::byte>> got(kMessages, std::vector<std::byte>(2000));
  std::vector<std::shared_ptr<RecvHandle>> recvs;
  for (int i = 0; i < kMessages; ++i) recvs.push_back(to.Recv(absl::MakeSpan(got[i])));
  std::vector<std::shared_ptr<Handle>> sends;
  for (int i = 0; i < kMessages; ++i) {  // one every 10 ms: across the cut at 0.3 s
    sends.push_back(from.Send(FrameHeader{.sequence = static_cast<uint64_t>(i)}, Pattern(2000, i)));
    absl::SleepFor(absl::Milliseconds(10));
  }
  for (auto& s : sends) ASSERT_TRUE(s->Wait(In(absl::Seconds(20))).ok());
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(recvs[i]->Wait(In(absl::Seconds(20))).ok()) << i;
    EXPECT_EQ(recvs[i]->header().sequence, static_cast<uint64_t>(i));
    EXPECT_TRUE(got[i] == Pattern(2000, i)) << i;
  }
}

// The whole cycle: messages sent across a cut of the direct link all arrive, in order and intact,
// once the link is back; the resumers count the outage.
TEST_F(LinkResumerTest, WrappedLinkComesBackAfterACutWithEveryMessageInOrder) {
  auto direct =
      PiecewiseTimeline::Create("direct", {{.start_s = 0, .up = true},
                                           {.start_s = 0.3, .up = false, .state = "fault"},
                                           {.start_s = 0.6, .up = true}});
  ASSERT_TRUE(direct.ok()) << direct.status();
  Start(std::make_shared<PiecewiseTimeline>(*std::move(direct)), nullptr, /*wrap=*/true);
  SendAcrossTheCut(*wrapped_[0], *wrapped_[1]);
  // The cut is met by rank 0's data or, when an acknowledgement meets it first, by rank 1.
  EXPECT_GE(resumer_[0]->outages_met() + resumer_[1]->outages_met(), 1);
}

// A link made for a rebuilt mesh (an elastic job's new epoch) resumes after a cut as the links
// of the first mesh do: before ConnectResumable, a rebuilt mesh's links failed the collective at
// the first cut (kUnavailable) and broke the communicator.
TEST_F(LinkResumerTest, ALinkOfARebuiltMeshResumesAfterACut) {
  auto direct =
      PiecewiseTimeline::Create("direct", {{.start_s = 0, .up = true},
                                           {.start_s = 0.3, .up = false, .state = "fault"},
                                           {.start_s = 0.6, .up = true}});
  ASSERT_TRUE(direct.ok()) << direct.status();
  Start(std::make_shared<PiecewiseTimeline>(*std::move(direct)), nullptr);
  std::thread higher([&] { made_[1] = resumer_[1]->ConnectResumable(0, In(absl::Seconds(10))); });
  made_[0] = resumer_[0]->ConnectResumable(1, In(absl::Seconds(10)));
  higher.join();
  ASSERT_TRUE(made_[0].ok()) << made_[0].status();
  ASSERT_TRUE(made_[1].ok()) << made_[1].status();
  SendAcrossTheCut(**made_[0], **made_[1]);
  EXPECT_GE(resumer_[0]->outages_met() + resumer_[1]->outages_met(), 1);
  // Closed before the resumers they call back into go.
  for (auto& made : made_) (*made)->Close();
}

}  // namespace
}  // namespace crosslink::collectives
