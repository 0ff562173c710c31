// ResumableConnection: a link cut at a chosen message resumes and delivers exactly the bytes of an
// uncut run (nothing lost, nothing twice, in order); an allreduce whose ring loses a link mid-way
// gives bit-identical results with few messages resent; a link that never returns fails by the
// resume deadline naming the link; a peer that closes for good is not waited for. Also the route
// a resume takes: the direct link, a detour through a relay, or a wait for the link's return.
#include "crosslink/collectives/transport/resumable_connection.h"

#include <atomic>
#include <cstring>
#include <deque>
#include <limits>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "collective_test_util.h"
#include "crosslink/collectives/allreduce.h"
#include "crosslink/collectives/emulation/contact_plan_timeline.h"
#include "crosslink/collectives/emulation/resume_route.h"
#include "crosslink/collectives/transport/inproc_transport.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {
namespace {

using testing::Bytes;
using ::testing::HasSubstr;

constexpr uint64_t kJob = 42;

// Test hook: forwards to a connection and cuts it (kUnavailable, as a cut emulated link does) at
// its cut_at-th data send (1-based; control frames are not counted). The message that meets the
// cut is lost with everything after it.
class CutAfter final : public Connection {
 public:
  CutAfter(std::unique_ptr<Connection> inner, int64_t cut_at)
      : inner_(std::move(inner)), cut_at_(cut_at) {}
  std::shared_ptr<Handle> Send(const FrameHeader& header,
                               absl::Span<const std::byte> payload) override {
    if (header.chunk != kResumeControlChunk && ++data_sent_ == cut_at_) {
      inner_->Close(absl::UnavailableError(
          absl::StrCat(inner_->Describe(), ": cut for testing at data message ", cut_at_)));
    }
    return inner_->Send(header, payload);
  }
  std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer) override {
    return inner_->Recv(buffer);
  }
  std::shared_ptr<RecvHandle> RecvAllocated(std::shared_ptr<std::vector<std::byte>> out) override {
    return inner_->RecvAllocated(std::move(out));
  }
  void Close(absl::Status reason) override { inner_->Close(std::move(reason)); }
  absl::Status status() const override { return inner_->status(); }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<Connection> inner_;
  const int64_t cut_at_;
  std::atomic<int64_t> data_sent_{0};
};

// The reconnect functions of one pair: the lower end makes a new in-process pair and leaves the
// other end for the higher end, as the runtime's dial and accept do. `available` false plays a
// link that does not come back.
class Switchboard {
 public:
  Switchboard(int rank_a, int rank_b) : a_(rank_a), b_(rank_b) {}

  ResumableConnection::Reconnect Dialer() {
    return [this](absl::Time deadline) -> absl::StatusOr<std::unique_ptr<Connection>> {
      if (!available_.load()) {
        absl::SleepFor(std::min(absl::Milliseconds(20), deadline - absl::Now()));
        return absl::UnavailableError("link test-a - test-b is down (fault)");
      }
      auto [mine, theirs] = MakeInProcPair(a_, b_, kJob);
      absl::MutexLock lock(&mu_);
      ++dials_;
      waiting_.push_back(std::move(theirs));
      return std::move(mine);
    };
  }
  ResumableConnection::Reconnect Acceptor() {
    return [this](absl::Time deadline) -> absl::StatusOr<std::unique_ptr<Connection>> {
      absl::MutexLock lock(&mu_);
      auto arrived = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !waiting_.empty(); };
      if (!mu_.AwaitWithDeadline(absl::Condition(&arrived), deadline)) {
        return absl::UnavailableError("the peer has not dialled");
      }
      std::unique_ptr<Connection> c = std::move(waiting_.front());
      waiting_.pop_front();
      return c;
    };
  }
  void set_available(bool available) { available_.store(available); }
  int dials() {
    absl::MutexLock lock(&mu_);
    return dials_;
  }

 private:
  const int a_, b_;
  std::atomic<bool> available_{true};
  absl::Mutex mu_;
  std::deque<std::unique_ptr<Connection>> waiting_ ABSL_GUARDED_BY(mu_);
  int dials_ ABSL_GUARDED_BY(mu_) = 0;
};

struct ResumablePair {
  std::unique_ptr<ResumableConnection> a, b;
};

// A resumable pair whose first inner connection is cut at a's cut_a-th and b's cut_b-th data
// send (0: never).
ResumablePair MakePair(Switchboard& board, int64_t cut_a, int64_t cut_b,
                       ResumableOptions options = {}) {
  auto [ea, eb] = MakeInProcPair(0, 1, kJob);
  std::unique_ptr<Connection> ia = std::move(ea);
  std::unique_ptr<Connection> ib = std::move(eb);
  if (cut_a > 0) ia = std::make_unique<CutAfter>(std::move(ia), cut_a);
  if (cut_b > 0) ib = std::make_unique<CutAfter>(std::move(ib), cut_b);
  return {std::make_unique<ResumableConnection>(std::move(ia), board.Dialer(), options),
          std::make_unique<ResumableConnection>(std::move(ib), board.Acceptor(), options)};
}

std::vector<Bytes> Messages(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Bytes> out;
  for (int i = 0; i < count; ++i) {
    Bytes m(1 + rng() % 5000);
    for (std::byte& b : m) b = static_cast<std::byte>(rng());
    out.push_back(std::move(m));
  }
  return out;
}

struct Received {
  std::vector<Bytes> payloads;
  std::vector<uint32_t> chunks;
};

// Sends `messages` from `from` while `to` receives them. Pipelined: half of the receives posted
// before the sends, the rest after, so that both the zero-copy and the held paths run. Lockstep:
// each message is received before the next is sent, so a cut at message K finds exactly K-1
// delivered.
Received Exchange(Connection& from, Connection& to, const std::vector<Bytes>& messages,
                  bool lockstep) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::vector<Bytes> buffers(messages.size(), Bytes(5000));
  Received out;
  if (lockstep) {
    for (size_t i = 0; i < messages.size(); ++i) {
      auto recv = to.Recv(absl::MakeSpan(buffers[i]));
      FrameHeader h;
      h.sequence = 7;
      h.chunk = static_cast<uint32_t>(i);
      auto send = from.Send(h, messages[i]);
      absl::Status s = recv->Wait(deadline);
      EXPECT_TRUE(s.ok()) << "message " << i << ": " << s;
      if (!s.ok()) return out;
      EXPECT_TRUE(send->Wait(deadline).ok());
      buffers[i].resize(recv->header().length);
      out.payloads.push_back(buffers[i]);
      out.chunks.push_back(recv->header().chunk);
    }
    return out;
  }
  std::vector<std::shared_ptr<RecvHandle>> recvs;
  const size_t early = messages.size() / 2;
  for (size_t i = 0; i < early; ++i) recvs.push_back(to.Recv(absl::MakeSpan(buffers[i])));
  std::vector<std::shared_ptr<Handle>> sends;
  for (size_t i = 0; i < messages.size(); ++i) {
    FrameHeader h;
    h.sequence = 7;
    h.chunk = static_cast<uint32_t>(i);
    sends.push_back(from.Send(h, messages[i]));
  }
  for (size_t i = early; i < messages.size(); ++i) {
    recvs.push_back(to.Recv(absl::MakeSpan(buffers[i])));
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    absl::Status s = recvs[i]->Wait(deadline);
    EXPECT_TRUE(s.ok()) << "message " << i << ": " << s;
    if (!s.ok()) return out;
    buffers[i].resize(recvs[i]->header().length);
    out.payloads.push_back(buffers[i]);
    out.chunks.push_back(recvs[i]->header().chunk);
  }
  for (auto& s : sends) EXPECT_TRUE(s->Wait(deadline).ok());
  return out;
}

struct CutCase {
  int64_t cut_sender = 0;    // a's data send that meets the cut (0: none)
  int64_t cut_receiver = 0;  // b's, in the reply
  bool lockstep = false;
};

class CutAtMessageTest : public ::testing::TestWithParam<CutCase> {};

TEST_P(CutAtMessageTest, ResumesWithTheBytesOfAnUncutRun) {
  const CutCase c = GetParam();
  const std::vector<Bytes> messages = Messages(60, 1);

  Switchboard uncut_board(0, 1);
  ResumablePair uncut = MakePair(uncut_board, 0, 0);
  const Received expected = Exchange(*uncut.a, *uncut.b, messages, c.lockstep);
  ASSERT_EQ(expected.payloads, messages);

  Switchboard board(0, 1);
  ResumablePair pair = MakePair(board, c.cut_sender, c.cut_receiver);
  const Received got = Exchange(*pair.a, *pair.b, messages, c.lockstep);
  EXPECT_EQ(got.payloads, expected.payloads);
  std::vector<uint32_t> order(messages.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  EXPECT_EQ(got.chunks, order);  // nothing twice, nothing out of order
  // Then the other way (cut_receiver cuts here), over the same resumable connections.
  const Received back = Exchange(*pair.b, *pair.a, messages, c.lockstep);
  EXPECT_EQ(back.payloads, messages);

  const ResumableCounters ca = pair.a->counters();
  const ResumableCounters cb = pair.b->counters();
  EXPECT_EQ(ca.resumes, 1);
  EXPECT_EQ(cb.resumes, 1);
  EXPECT_EQ(board.dials(), 1);
  const int64_t resent = ca.messages_resent + cb.messages_resent;
  if (c.lockstep) {
    // Everything before the cut was acknowledged: only the message that met it goes again.
    EXPECT_EQ(resent, 1);
  } else {
    // Pipelined, the messages already handed to the broken connection go again; at least the
    // one that met the cut, at most every one sent.
    EXPECT_GE(resent, 1);
    EXPECT_LE(resent, static_cast<int64_t>(messages.size()));
  }
  EXPECT_TRUE(pair.a->status().ok());
  EXPECT_TRUE(pair.b->status().ok());
}

INSTANTIATE_TEST_SUITE_P(Cuts, CutAtMessageTest,
                         ::testing::Values(CutCase{1, 0, true}, CutCase{20, 0, true},
                                           CutCase{60, 0, true}, CutCase{0, 5, true},
                                           CutCase{1, 0, false}, CutCase{20, 0, false},
                                           CutCase{60, 0, false}, CutCase{0, 5, false}));

TEST(ResumableConnectionTest, AllreduceWithARingLinkCutIsBitIdenticalToAnUncutRun) {
  const int n = 4;
  const size_t count = 40000;  // 160 KB: 10 KB blocks cut into 2 KB segments, many messages
  std::vector<Bytes> inputs;
  for (int r = 0; r < n; ++r) {
    inputs.push_back(testing::RandomBuffer(DataType::kFloat32, count, 100 + r));
  }
  auto run = [&](int64_t cut_at, int64_t* resent, int64_t* resumes) {
    testing::Mesh mesh(n);
    std::vector<std::unique_ptr<Switchboard>> boards;
    for (int a = 0; a < n; ++a) {
      for (int b = a + 1; b < n; ++b) {
        boards.push_back(std::make_unique<Switchboard>(a, b));
        std::unique_ptr<Connection> ia = mesh.Take(a, b);
        // Rank 1's link to rank 2 is cut mid-ring.
        if (cut_at > 0 && a == 1 && b == 2) ia = std::make_unique<CutAfter>(std::move(ia), cut_at);
        mesh.Replace(a, b,
                     std::make_unique<ResumableConnection>(std::move(ia), boards.back()->Dialer()));
        mesh.Replace(
            b, a,
            std::make_unique<ResumableConnection>(mesh.Take(b, a), boards.back()->Acceptor()));
      }
    }
    std::vector<Bytes> buffers = inputs;
    std::vector<absl::Status> statuses = mesh.Run([&](int r) {
      CollectiveOptions options;
      options.algorithm = AllreduceAlgorithm::kRing;
      options.max_segment_bytes = 2048;
      options.deadline = absl::Now() + absl::Seconds(30);
      return Allreduce(mesh.Context(r), buffers[r].data(), count, DataType::kFloat32,
                       ReduceOp::kSum, options);
    });
    for (int r = 0; r < n; ++r)
      EXPECT_TRUE(statuses[r].ok()) << "rank " << r << ": " << statuses[r];
    *resent = 0;
    *resumes = 0;
    for (int r = 0; r < n; ++r) {
      for (int p = 0; p < n; ++p) {
        if (p == r) continue;
        auto* c = dynamic_cast<ResumableConnection*>(mesh.connection(r, p));
        *resent += c->counters().messages_resent;
        *resumes += c->counters().resumes;
      }
    }
    return buffers;
  };
  int64_t resent = 0, resumes = 0;
  const std::vector<Bytes> uncut = run(0, &resent, &resumes);
  EXPECT_EQ(resent, 0);
  const std::vector<Bytes> cut = run(17, &resent, &resumes);
  for (int r = 0; r < n; ++r) {
    ASSERT_EQ(cut[r].size(), uncut[r].size());
    EXPECT_EQ(std::memcmp(cut[r].data(), uncut[r].data(), cut[r].size()), 0) << "rank " << r;
    EXPECT_EQ(std::memcmp(cut[r].data(), uncut[0].data(), cut[r].size()), 0) << "rank " << r;
  }
  EXPECT_EQ(resumes, 2);  // both ends of the one cut link
  // Rank 1 sends rank 2 2*(n-1) = 6 blocks of 20 segments (10000 floats in 2 KiB pieces): 120
  // messages. The resend starts after the last one rank 2 had, not from zero.
  EXPECT_GE(resent, 1);
  EXPECT_LT(resent, 120);
  std::printf("ring allreduce, cut at rank 1's 17th message to rank 2: %lld of 120 resent\n",
              static_cast<long long>(resent));
}

TEST(ResumableConnectionTest, LinkThatNeverReturnsFailsByTheResumeDeadlineNamingTheLink) {
  Switchboard board(0, 1);
  board.set_available(false);
  ResumableOptions options;
  options.resume_timeout = absl::Seconds(1);
  options.attempt_slice = absl::Milliseconds(100);
  ResumablePair pair = MakePair(board, 1, 0, options);
  Bytes in(100);
  const absl::Time start = absl::Now();
  auto recv = pair.b->Recv(absl::MakeSpan(in));
  auto send = pair.a->Send(FrameHeader{}, Bytes(100, std::byte{1}));
  const absl::Status s = send->Wait(start + absl::Seconds(20));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("could not be resumed within 1s"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("test-a - test-b is down"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("rank 0 -> rank 1"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // The accepting end gives up by its own deadline too.
  EXPECT_EQ(recv->Wait(start + absl::Seconds(20)).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(ResumableConnectionTest, CloseDuringAResumeEndsItAtOnce) {
  Switchboard board(0, 1);
  board.set_available(false);
  ResumablePair pair = MakePair(board, 1, 0);  // resume_timeout 5 min: only Close can end it
  auto send = pair.a->Send(FrameHeader{}, Bytes(10));
  // The executor's deadline passed: it closes the connection, which must not hang.
  EXPECT_EQ(send->Wait(absl::Now() + absl::Milliseconds(300)).code(),
            absl::StatusCode::kDeadlineExceeded);
  const absl::Time start = absl::Now();
  pair.a->Close(absl::DeadlineExceededError("collective deadline"));
  pair.b->Close(absl::DeadlineExceededError("collective deadline"));
  pair.a.reset();
  pair.b.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(ResumableConnectionTest, PeerThatClosesForGoodIsNotWaitedFor) {
  Switchboard board(0, 1);
  ResumablePair pair = MakePair(board, 0, 0);
  Bytes in(10);
  auto recv = pair.b->Recv(absl::MakeSpan(in));
  pair.a->Close(absl::AbortedError("rank 0 gave up"));
  const absl::Status s = recv->Wait(absl::Now() + absl::Seconds(10));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("peer closed"));
  EXPECT_EQ(board.dials(), 0);
}

TEST(ResumableConnectionTest, AcknowledgementsFreeTheCopiesWithoutAPostedReceive) {
  Switchboard board(0, 1);
  ResumablePair pair = MakePair(board, 0, 0);
  // a only sends (like a broadcast root): b's acknowledgements reach a although a posts no
  // receive, so its copies are freed.
  std::vector<Bytes> buffers(20, Bytes(100));
  std::vector<std::shared_ptr<RecvHandle>> recvs;
  for (auto& b : buffers) recvs.push_back(pair.b->Recv(absl::MakeSpan(b)));
  for (int i = 0; i < 20; ++i) pair.a->Send(FrameHeader{}, Bytes(100, std::byte{7}));
  for (auto& r : recvs) ASSERT_TRUE(r->Wait(absl::Now() + absl::Seconds(10)).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (pair.a->counters().messages_unacked > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));  // polling a counter, not ordering threads
  }
  EXPECT_EQ(pair.a->counters().messages_unacked, 0);
}

TEST(ResumableConnectionTest, AcknowledgementBeyondTheMessagesSentFailsTheConnection) {
  // The peer's end is a bare connection that forges an ack for 5 messages after 2 were sent:
  // accepting it would drop copies a later resume needs.
  Switchboard board(0, 1);
  auto [ea, eb] = MakeInProcPair(0, 1, kJob);
  ResumableConnection a(std::move(ea), board.Dialer(), ResumableOptions{});
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  Bytes in(10);
  auto recv = a.Recv(absl::MakeSpan(in));
  for (int i = 0; i < 2; ++i) a.Send(FrameHeader{}, Bytes(10, std::byte{1}));
  FrameHeader ack{.chunk = kResumeControlChunk, .tag = kAckTag};
  ack.sequence = 5;
  ASSERT_TRUE(eb->Send(ack, {})->Wait(deadline).ok());
  const absl::Status s = recv->Wait(deadline);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("acknowledged 5 messages, but only 2"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(a.Describe()));
  EXPECT_EQ(board.dials(), 0);
}

TEST(ResumableConnectionTest, HeldBytesBeyondTheBoundFailTheConnection) {
  // b posts no receive: a's messages are held by b's pump, 16 bytes at most.
  Switchboard board(0, 1);
  ResumablePair pair = MakePair(board, 0, 0, ResumableOptions{.max_held_bytes = 16});
  for (int i = 0; i < 3; ++i) pair.a->Send(FrameHeader{}, Bytes(8, std::byte{1}));
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (pair.b->status().ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));  // polling a status, not ordering threads
  }
  const absl::Status s = pair.b->status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("exceed the 16 bytes held"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(pair.b->Describe()));
}

// Connection::RecvAllocated, which the pump relies on: the buffer takes the message's size,
// whether the receive was posted before the message arrived or after, in line with Recv.
void CheckRecvAllocated(Connection& from, Connection& to) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  auto early = std::make_shared<std::vector<std::byte>>(3);
  auto posted_early = to.RecvAllocated(early);
  Bytes plain(5000);  // Messages() are at most 5000 bytes
  auto posted_plain = to.Recv(absl::MakeSpan(plain));
  const std::vector<Bytes> messages = Messages(4, 9);
  for (const Bytes& m : messages) ASSERT_TRUE(from.Send(FrameHeader{}, m)->Wait(deadline).ok());
  ASSERT_TRUE(from.Send(FrameHeader{}, {})->Wait(deadline).ok());
  ASSERT_TRUE(posted_early->Wait(deadline).ok());
  EXPECT_EQ(*early, messages[0]);
  ASSERT_TRUE(posted_plain->Wait(deadline).ok());
  plain.resize(posted_plain->header().length);
  EXPECT_EQ(plain, messages[1]);
  for (int i = 2; i < 4; ++i) {
    auto late = std::make_shared<std::vector<std::byte>>();
    auto h = to.RecvAllocated(late);
    ASSERT_TRUE(h->Wait(deadline).ok());
    EXPECT_EQ(*late, messages[i]);
    EXPECT_EQ(h->header().length, messages[i].size());
  }
  auto empty = std::make_shared<std::vector<std::byte>>(7);
  ASSERT_TRUE(to.RecvAllocated(empty)->Wait(deadline).ok());
  EXPECT_TRUE(empty->empty());
}

TEST(RecvAllocatedTest, InProcess) {
  auto [a, b] = MakeInProcPair(0, 1, kJob);
  CheckRecvAllocated(*a, *b);
}

TEST(RecvAllocatedTest, Tcp) {
  auto c0 = MakeTcpContext(0, kJob);
  auto c1 = MakeTcpContext(1, kJob);
  ASSERT_TRUE(c0.ok() && c1.ok());
  auto a = (*c0)->Connect(1, (*c1)->address(), absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = (*c1)->Accept(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(b.ok()) << b.status();
  CheckRecvAllocated(**a, *b->second);
}

// Satellites 0-1 direct (down for a fault 100-140 s), and a relay 2: 0-2 always up, 2-1 down
// 120-160 s. So at 110 s the detour through 2 is up; at 130 s neither is, until 140 s.
std::shared_ptr<const linkmodel::ContactPlan> RelayPlan() {
  using linkmodel::LinkState;
  linkmodel::LinkPhysics physics;
  physics.rate_bps = 1e9;
  linkmodel::Link l01{
      0,
      1,
      false,
      {{0, 100, LinkState::kUp}, {100, 140, LinkState::kFault}, {140, 300, LinkState::kUp}},
      {1000, 1000, 1000, 1000}};
  linkmodel::Link l02{0, 2, false, {{0, 300, LinkState::kUp}}, {1500, 1500, 1500, 1500}};
  linkmodel::Link l12{
      1,
      2,
      false,
      {{0, 120, LinkState::kUp}, {120, 160, LinkState::kFault}, {160, 300, LinkState::kUp}},
      {1500, 1500, 1500, 1500}};
  return std::make_shared<linkmodel::ContactPlan>(
      std::vector<std::string>{"sat-0", "sat-1", "sat-2"}, absl::UnixEpoch(), 300.0, 100.0, physics,
      true, std::vector<linkmodel::Link>{l01, l02, l12});
}

TEST(ResumeRouteTest, TakesTheDirectLinkThenADetourThenWaitsForTheReturn) {
  auto plan = RelayPlan();
  auto direct = ContactPlanTimeline::Create(plan, 0, 1);
  auto detour = ContactPlanTimeline::CreateDetour(plan, 0, 1);
  ASSERT_TRUE(direct.ok() && detour.ok());
  EXPECT_EQ(detour->Describe(), "sat-0 - sat-1 (detour)");

  // The detour never uses the direct link, even while it is up: it goes through sat-2.
  LinkWindow w = detour->At(50);
  ASSERT_TRUE(w.up);
  EXPECT_GT(w.latency_s, direct->At(50).latency_s);

  ResumeRoute r = ChooseResumeRoute(*direct, &*detour, 50);
  EXPECT_EQ(r.kind, ResumeRoute::Kind::kDirect) << r.reason;

  r = ChooseResumeRoute(*direct, &*detour, 110);
  EXPECT_EQ(r.kind, ResumeRoute::Kind::kDetour) << r.reason;
  EXPECT_THAT(r.reason, HasSubstr("sat-0 - sat-1 (detour) is up"));

  r = ChooseResumeRoute(*direct, &*detour, 130);
  EXPECT_EQ(r.kind, ResumeRoute::Kind::kWait) << r.reason;
  EXPECT_DOUBLE_EQ(r.wait_until_s, 140);  // the direct link returns before the relay hop
  EXPECT_THAT(r.reason, HasSubstr("no detour"));

  // Without a detour, a down link means waiting for its return.
  r = ChooseResumeRoute(*direct, nullptr, 110);
  EXPECT_EQ(r.kind, ResumeRoute::Kind::kWait);
  EXPECT_DOUBLE_EQ(r.wait_until_s, 140);
}

}  // namespace
}  // namespace crosslink::collectives
