// The TCP transport's handshake and listener against peers that are not what they claim: no
// credential or id leaks on refusal, a wrong key or a replayed handshake is refused, and the
// listener stays available under trickled handshakes, idle floods and descriptor exhaustion.
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <thread>
#include <vector>

#include "../../collectives/src/transport/handshake.h"
#include "absl/time/clock.h"
#include "crosslink/collectives/transport/frame.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "gtest/gtest.h"
#include "hostile_peer.h"
#include "transport_test_util.h"

namespace crosslink::collectives {
namespace {

using testing::DialLoopback;
using testing::In;
using testing::ReadUntilClosed;
using testing::RecordingRelay;
using testing::SendBytes;

constexpr uint64_t kJob = 0x0123456789abcdefull;

TcpOptions WithKey(const std::string& token) {
  TcpOptions options;
  options.job_key = DeriveJobKey(token);
  return options;
}

std::vector<std::byte> HelloBytes(uint64_t job_tag, uint32_t from, uint32_t to) {
  std::array<std::byte, handshake::kMaxMessageBytes> buf;
  const size_t n =
      handshake::EncodeMessage(handshake::Hello{job_tag, from, to, {}}, absl::MakeSpan(buf));
  return std::vector<std::byte>(buf.begin(), buf.begin() + n);
}

bool Contains(const std::vector<std::byte>& haystack, uint64_t value) {
  std::array<std::byte, 8> needle;
  std::memcpy(needle.data(), &value, 8);  // little-endian, as the wire
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

TEST(TcpHandshakeTest, RefusalOfAnotherJobNamesNothing) {
  auto listener = MakeTcpContext(1, kJob, WithKey("secret"));
  ASSERT_TRUE(listener.ok());
  const int fd = DialLoopback((*listener)->address());
  ASSERT_GE(fd, 0);
  const std::vector<std::byte> hello = HelloBytes(kJob ^ 1, 0, 1);
  ASSERT_TRUE(SendBytes(fd, hello.data(), hello.size()));
  std::vector<std::byte> reply;
  ASSERT_TRUE(ReadUntilClosed(fd, In(absl::Seconds(10)), &reply));
  ::close(fd);
  // A bare refusal: its verdict and nothing else, no job id.
  auto decoded = handshake::DecodeMessage(reply);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(std::get<handshake::Verdict>(*decoded).code, handshake::VerdictCode::kRefused);
  EXPECT_FALSE(Contains(reply, kJob));
}

TEST(TcpHandshakeTest, SameJobIdWithoutTheKeyIsRefusedBothWays) {
  // The job id travels in clear; knowing it is not enough.
  auto listener = MakeTcpContext(1, kJob, WithKey("secret"));
  auto impostor = MakeTcpContext(0, kJob, WithKey("guess"));
  ASSERT_TRUE(listener.ok() && impostor.ok());
  auto c = (*impostor)->Connect(1, (*listener)->address(), In(absl::Seconds(10)));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnauthenticated) << c.status();
  // The impostor as a listener: a real rank refuses to talk to it.
  auto real = MakeTcpContext(2, kJob, WithKey("secret"));
  ASSERT_TRUE(real.ok());
  auto c2 = (*real)->Connect(0, (*impostor)->address(), In(absl::Seconds(10)));
  EXPECT_EQ(c2.status().code(), absl::StatusCode::kUnauthenticated) << c2.status();
  EXPECT_EQ((*listener)->Accept(In(absl::Milliseconds(200))).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ((*impostor)->Accept(In(absl::Milliseconds(200))).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // With the key, the same ranks connect.
  auto ok = (*real)->Connect(1, (*listener)->address(), In(absl::Seconds(10)));
  EXPECT_TRUE(ok.ok()) << ok.status();
  auto accepted = (*listener)->Accept(In(absl::Seconds(10)));
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->first, 2);
}

TEST(TcpHandshakeTest, ReplayedHandshakeFromAnotherConnectionOrJobIsRefused) {
  auto listener = MakeTcpContext(1, kJob, WithKey("secret"));
  auto rank0 = MakeTcpContext(0, kJob, WithKey("secret"));
  ASSERT_TRUE(listener.ok() && rank0.ok());
  std::vector<std::byte> recorded;
  {
    RecordingRelay relay((*listener)->address());
    auto c = (*rank0)->Connect(1, relay.address(), In(absl::Seconds(10)));
    ASSERT_TRUE(c.ok()) << c.status();
    recorded = relay.client_bytes();
  }
  ASSERT_TRUE((*listener)->Accept(In(absl::Seconds(10))).ok());  // the genuine one
  ASSERT_EQ(recorded.size(), handshake::MessageBytes(handshake::Kind::kHello) +
                                 handshake::MessageBytes(handshake::Kind::kProof));
  auto replay = [&](const std::vector<std::byte>& bytes) {
    const int fd = DialLoopback((*listener)->address());
    EXPECT_TRUE(SendBytes(fd, bytes.data(), bytes.size()));
    std::vector<std::byte> reply;
    EXPECT_TRUE(ReadUntilClosed(fd, In(absl::Seconds(10)), &reply));
    ::close(fd);
    return reply;
  };
  // The same bytes again: the listener's fresh nonce makes the recorded proof worthless.
  std::vector<std::byte> reply = replay(recorded);
  const size_t verdict_bytes = handshake::MessageBytes(handshake::Kind::kVerdict);
  ASSERT_GE(reply.size(), verdict_bytes);
  auto verdict = handshake::DecodeMessage(absl::MakeConstSpan(reply).last(verdict_bytes));
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(std::get<handshake::Verdict>(*verdict).code, handshake::VerdictCode::kRefused);

  // A handshake recorded in another job, its job tag rewritten to this one's (it is public).
  auto other_listener = MakeTcpContext(1, kJob + 7, WithKey("other secret"));
  auto other_rank0 = MakeTcpContext(0, kJob + 7, WithKey("other secret"));
  ASSERT_TRUE(other_listener.ok() && other_rank0.ok());
  std::vector<std::byte> other;
  {
    RecordingRelay relay((*other_listener)->address());
    ASSERT_TRUE((*other_rank0)->Connect(1, relay.address(), In(absl::Seconds(10))).ok());
    other = relay.client_bytes();
  }
  ASSERT_GE(other.size(), 16u);
  const uint64_t tag = kJob;
  std::memcpy(other.data() + handshake::kPrefixBytes, &tag, 8);
  reply = replay(other);
  ASSERT_GE(reply.size(), verdict_bytes);
  verdict = handshake::DecodeMessage(absl::MakeConstSpan(reply).last(verdict_bytes));
  ASSERT_TRUE(verdict.ok());
  EXPECT_EQ(std::get<handshake::Verdict>(*verdict).code, handshake::VerdictCode::kRefused);
  // Neither replay produced a connection.
  EXPECT_EQ((*listener)->Accept(In(absl::Milliseconds(200))).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(TcpHandshakeTest, TrickledHandshakesNeitherBlockOthersNorOutliveTheirDeadline) {
  TcpOptions options = WithKey("secret");
  options.handshake_timeout = absl::Seconds(2);
  auto listener = MakeTcpContext(1, kJob, options);
  auto rank0 = MakeTcpContext(0, kJob, WithKey("secret"));
  ASSERT_TRUE(listener.ok() && rank0.ok());
  // Eight clients each send a valid Hello one byte every 300 ms: 17 s to finish, were they let.
  constexpr int kTricklers = 8;
  std::vector<std::thread> tricklers;
  std::atomic<int> dropped_in_time{0};
  const absl::Time start = absl::Now();
  for (int i = 0; i < kTricklers; ++i) {
    tricklers.emplace_back([&] {
      const int fd = DialLoopback((*listener)->address());
      if (fd < 0) return;
      const std::vector<std::byte> hello = HelloBytes(kJob, 0, 1);
      bool dropped = false;
      for (const std::byte b : hello) {
        if (!SendBytes(fd, &b, 1)) {
          dropped = true;
          break;
        }
        std::vector<std::byte> ignored;
        if (ReadUntilClosed(fd, In(absl::Milliseconds(300)), &ignored)) {
          dropped = true;
          break;
        }
      }
      // Dropped by the listener's absolute deadline (2 s) plus slack for a loaded machine.
      if (dropped && absl::Now() - start < absl::Seconds(8)) ++dropped_in_time;
      ::close(fd);
    });
  }
  absl::SleepFor(absl::Milliseconds(200));  // the tricklers are in
  // A real rank connects meanwhile, at once: the accept thread never waits on a trickler.
  const absl::Time before = absl::Now();
  auto c = (*rank0)->Connect(1, (*listener)->address(), In(absl::Seconds(30)));
  ASSERT_TRUE(c.ok()) << c.status();
  // Generous for a loaded machine; a listener that waited on the tricklers would take 8 x 2 s.
  EXPECT_LT(absl::Now() - before, absl::Seconds(4));
  ASSERT_TRUE((*listener)->Accept(In(absl::Seconds(10))).ok());
  for (auto& t : tricklers) t.join();
  EXPECT_EQ(dropped_in_time.load(), kTricklers);
}

TEST(TcpHandshakeTest, HundredsOfIdleConnectionsAreBoundedAndDropped) {
  TcpOptions options = WithKey("secret");
  options.handshake_timeout = absl::Seconds(2);
  options.max_pending_handshakes = 32;
  auto listener = MakeTcpContext(1, kJob, options);
  auto rank0 = MakeTcpContext(0, kJob, WithKey("secret"));
  ASSERT_TRUE(listener.ok() && rank0.ok());
  constexpr int kIdle = 300;
  std::vector<int> idle;
  for (int i = 0; i < kIdle; ++i) {
    const int fd = DialLoopback((*listener)->address());
    if (fd >= 0) idle.push_back(fd);
  }
  ASSERT_GT(idle.size(), 200u);
  // The real rank still gets through, well before any idle handshake times out.
  const absl::Time before = absl::Now();
  auto c = (*rank0)->Connect(1, (*listener)->address(), In(absl::Seconds(30)));
  ASSERT_TRUE(c.ok()) << c.status();
  // Generous for a loaded machine; a listener that waited on each idle peer would take 300 x 2 s.
  EXPECT_LT(absl::Now() - before, absl::Seconds(4));
  ASSERT_TRUE((*listener)->Accept(In(absl::Seconds(10))).ok());
  // Every idle connection is closed by the listener: evicted beyond the bound, or at its deadline.
  int closed = 0;
  const absl::Time deadline = In(absl::Seconds(10));
  for (int fd : idle) {
    if (ReadUntilClosed(fd, deadline)) ++closed;
    ::close(fd);
  }
  EXPECT_EQ(closed, static_cast<int>(idle.size()));
}

TEST(TcpHandshakeTest, UnclaimedConnectionsAreBoundedAndTheConnectorRetries) {
  TcpOptions options = WithKey("secret");
  options.max_unclaimed_connections = 1;
  auto listener = MakeTcpContext(2, kJob, options);
  auto rank0 = MakeTcpContext(0, kJob, WithKey("secret"));
  auto rank1 = MakeTcpContext(1, kJob, WithKey("secret"));
  ASSERT_TRUE(listener.ok() && rank0.ok() && rank1.ok());
  auto first = (*rank0)->Connect(2, (*listener)->address(), In(absl::Seconds(10)));
  ASSERT_TRUE(first.ok());
  // The listener holds one unclaimed connection: the second connector hears "busy" and retries.
  auto busy = (*rank1)->Connect(2, (*listener)->address(), In(absl::Milliseconds(500)));
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kUnavailable) << busy.status();
  EXPECT_NE(busy.status().message().find("busy"), std::string::npos) << busy.status();
  std::thread claim([&] {
    absl::SleepFor(absl::Milliseconds(300));
    EXPECT_TRUE((*listener)->Accept(In(absl::Seconds(10))).ok());
  });
  auto second = (*rank1)->Connect(2, (*listener)->address(), In(absl::Seconds(10)));
  EXPECT_TRUE(second.ok()) << second.status();
  claim.join();
  auto accepted = (*listener)->Accept(In(absl::Seconds(10)));
  ASSERT_TRUE(accepted.ok());
  EXPECT_EQ(accepted->first, 1);
}

TEST(TcpHandshakeTest, ConnectingToAnotherRanksAddressFailsAtOnce) {
  auto listener = MakeTcpContext(1, kJob, WithKey("secret"));
  auto rank0 = MakeTcpContext(0, kJob, WithKey("secret"));
  ASSERT_TRUE(listener.ok() && rank0.ok());
  auto c = (*rank0)->Connect(5, (*listener)->address(), In(absl::Seconds(10)));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition) << c.status();
}

double ProcessCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

TEST(TcpHandshakeTest, AcceptOutOfDescriptorsBacksOffAndRecovers) {
  auto listener = MakeTcpContext(1, kJob, WithKey("secret"));
  ASSERT_TRUE(listener.ok());
  // A connection waits in the backlog (the kernel completes TCP's handshake without accept).
  const int waiting = DialLoopback((*listener)->address());
  ASSERT_GE(waiting, 0);
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  // A low limit (a little above the highest descriptor open now) so that filling it is quick.
  int highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::stoi(entry.path().filename().string()));
  }
  rlimit low = old;
  low.rlim_cur = std::min<rlim_t>(old.rlim_cur, highest + 64);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  // Use up every descriptor: accept now fails with EMFILE for as long as this lasts.
  std::vector<int> fillers;
  for (;;) {
    const int fd = ::dup(waiting);
    if (fd < 0) break;
    fillers.push_back(fd);
  }
  const double cpu_before = ProcessCpuSeconds();
  absl::SleepFor(absl::Seconds(1));
  const double cpu = ProcessCpuSeconds() - cpu_before;
  for (int fd : fillers) ::close(fd);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  // A spinning accept thread burns up to 1 s of CPU in this second (at least a fair share of a
  // core on a loaded machine); backing off costs well under a millisecond.
  EXPECT_LT(cpu, 0.05);
  // Descriptors are back: the waiting connection's handshake completes (it is dropped after its
  // Hello-less silence, by the deadline: here the listener simply must answer a real rank).
  auto rank0 = MakeTcpContext(0, kJob, WithKey("secret"));
  ASSERT_TRUE(rank0.ok());
  auto c = (*rank0)->Connect(1, (*listener)->address(), In(absl::Seconds(10)));
  EXPECT_TRUE(c.ok()) << c.status();
  ::close(waiting);
}

}  // namespace
}  // namespace crosslink::collectives
