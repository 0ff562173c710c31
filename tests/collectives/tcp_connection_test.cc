// The TCP transport's performance paths, beyond the shared conformance suite: a caller-supplied
// CRC (SendWithCrc) is what the receiver checks, a sender that runs far ahead of the posted
// receives loses nothing, and the executor's fused reduce-and-CRC forwarding gives correct
// results over real sockets (a wrong forwarded CRC would fail the collective with kDataLoss).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <filesystem>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/time/clock.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/executor.h"
#include "crosslink/collectives/reduce.h"
#include "crosslink/collectives/transport/crc32c.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "gtest/gtest.h"
#include "transport_test_util.h"

namespace crosslink::collectives {
namespace {

constexpr uint64_t kJob = 7;

using testing::In;
using testing::Pattern;

// A full TCP mesh of `n` ranks in this process: conns[r][p] is rank r's connection to rank p.
struct TcpMesh {
  std::vector<std::unique_ptr<Context>> contexts;
  std::vector<std::vector<std::unique_ptr<Connection>>> conns;

  explicit TcpMesh(int n, const TcpOptions& options = {}) : conns(n) {
    for (int r = 0; r < n; ++r) {
      auto ctx = MakeTcpContext(r, kJob, options);
      EXPECT_TRUE(ctx.ok()) << ctx.status();
      contexts.push_back(std::move(ctx).value());
      conns[r].resize(n);
    }
    // Rank r connects to every higher rank; the context's accept thread answers meanwhile.
    for (int r = 0; r < n; ++r) {
      for (int p = r + 1; p < n; ++p) {
        auto c = contexts[r]->Connect(p, contexts[p]->address(), In(absl::Seconds(10)));
        EXPECT_TRUE(c.ok()) << c.status();
        conns[r][p] = std::move(c).value();
        auto a = contexts[p]->Accept(In(absl::Seconds(10)));
        EXPECT_TRUE(a.ok()) << a.status();
        EXPECT_EQ(a->first, r);
        conns[p][r] = std::move(a->second);
      }
    }
  }
};

TEST(TcpConnectionTest, SendWithCrcDeliversAndTheReceiverChecksTheGivenCrc) {
  TcpMesh mesh(2);
  const std::vector<std::byte> payload = Pattern(300'000, 1);
  std::vector<std::byte> in(payload.size());
  auto recv = mesh.conns[1][0]->Recv(absl::MakeSpan(in));
  auto send = mesh.conns[0][1]->SendWithCrc(FrameHeader{.sequence = 3}, payload, Crc32c(payload));
  ASSERT_TRUE(send->Wait(In(absl::Seconds(10))).ok());
  ASSERT_TRUE(recv->Wait(In(absl::Seconds(10))).ok());
  EXPECT_EQ(recv->header().crc32c, Crc32c(payload));
  EXPECT_TRUE(in == payload);

  // A CRC that does not match the bytes is caught like corruption on the wire.
  recv = mesh.conns[1][0]->Recv(absl::MakeSpan(in));
  send = mesh.conns[0][1]->SendWithCrc(FrameHeader{.sequence = 4}, payload, Crc32c(payload) ^ 1);
  EXPECT_EQ(recv->Wait(In(absl::Seconds(10))).code(), absl::StatusCode::kDataLoss);
  // The payload must outlive its send: the sender thread may still be reading it (TSan caught
  // the vector freed under sendmsg when the test returned without this wait).
  (void)send->Wait(In(absl::Seconds(10)));
}

// Every connected TCP socket of this process (the descriptors in /proc/self/fd).
std::vector<int> ConnectedTcpSockets() {
  std::vector<int> fds;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    int type = 0, listening = 1, nodelay = 0;
    socklen_t len = sizeof(int);
    sockaddr_storage peer{};
    socklen_t peer_len = sizeof(peer);
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) continue;
    len = sizeof(int);
    ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
    len = sizeof(int);
    // Not TCP (a Unix socket) fails here.
    if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) != 0) continue;
    if (listening != 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
      continue;
    }
    fds.push_back(fd);
  }
  return fds;
}

TEST(TcpConnectionTest, DataSocketsDetectAHalfOpenLinkWithinABoundedTime) {
  // A peer that vanishes without closing must be noticed in seconds, not after Linux's defaults
  // (keepalive off; ~15 min of retransmissions).
  TcpMesh mesh(2);
  const std::vector<int> fds = ConnectedTcpSockets();
  ASSERT_GE(fds.size(), 2u);  // both ends of the one connection
  for (int fd : fds) {
    int value = 0;
    socklen_t len = sizeof(value);
    ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &value, &len), 0);
    EXPECT_EQ(value, 1) << fd;
    unsigned timeout_ms = 0;
    len = sizeof(timeout_ms);
    ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, &len), 0);
    EXPECT_GT(timeout_ms, 0u) << fd;
    EXPECT_LE(timeout_ms, 60'000u) << fd;
    len = sizeof(value);
    ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &value, &len), 0);
    EXPECT_LE(value, 30) << fd;
  }
}

TEST(TcpConnectionTest, DeadLinkTimeoutSetsTheSocketsBounds) {
  // Over kernel links that a driver cuts (crosslink-run --netns) the bound is a few seconds, and
  // the keepalive probes of an end that only receives scale with it. Below 2 s it is 2 s.
  for (const auto& [timeout, user_ms, idle_s, interval_s] :
       {std::tuple{absl::Seconds(6), 6000u, 2, 1}, std::tuple{absl::Seconds(1), 2000u, 1, 1},
        std::tuple{absl::Seconds(30), 30'000u, 10, 5}}) {
    TcpOptions options;
    options.dead_link_timeout = timeout;
    TcpMesh mesh(2, options);
    const std::vector<int> fds = ConnectedTcpSockets();
    ASSERT_GE(fds.size(), 2u);
    for (int fd : fds) {
      unsigned timeout_ms = 0;
      socklen_t len = sizeof(timeout_ms);
      ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, &len), 0);
      EXPECT_EQ(timeout_ms, user_ms) << timeout;
      int value = 0;
      len = sizeof(value);
      ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &value, &len), 0);
      EXPECT_EQ(value, idle_s) << timeout;
      ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &value, &len), 0);
      EXPECT_EQ(value, interval_s) << timeout;
    }
  }
}

TEST(TcpConnectionTest, SenderFarAheadOfPostedReceivesLosesNothing) {
  // 32 MiB in flight before the first receive is posted: more than the socket buffers hold, so
  // the receiver first holds the stream back and then, after its bounded wait, buffers the rest.
  TcpMesh mesh(2);
  constexpr int kMessages = 128;
  constexpr size_t kBytes = 256 << 10;
  std::vector<std::vector<std::byte>> sent;
  std::vector<std::shared_ptr<Handle>> sends;
  for (int i = 0; i < kMessages; ++i) {
    sent.push_back(Pattern(kBytes - i, i));
    sends.push_back(
        mesh.conns[0][1]->Send(FrameHeader{.chunk = static_cast<uint32_t>(i)}, sent.back()));
  }
  std::vector<std::byte> in(kBytes);
  for (int i = 0; i < kMessages; ++i) {
    // Every other receive is posted only after its message has had time to arrive.
    if (i % 2 == 1) (void)sends[i]->Wait(In(absl::Milliseconds(100)));
    auto r = mesh.conns[1][0]->Recv(absl::MakeSpan(in));
    ASSERT_TRUE(r->Wait(In(absl::Seconds(30))).ok()) << i;
    ASSERT_EQ(r->header().chunk, static_cast<uint32_t>(i));
    ASSERT_EQ(r->header().length, sent[i].size());
    ASSERT_TRUE(std::equal(sent[i].begin(), sent[i].end(), in.begin())) << i;
  }
  for (auto& s : sends) EXPECT_TRUE(s->Wait(In(absl::Seconds(10))).ok());
}

TEST(TcpConnectionTest, RingAllreduceForwardsFusedCrcsCorrectly) {
  // Integer sums wrap and float sums of small integers are exact, so any reduction order gives
  // the same bits as the reference below.
  for (DataType type : {DataType::kFloat32, DataType::kInt32, DataType::kInt64}) {
    constexpr int kRanks = 3;
    TcpMesh mesh(kRanks);
    CollectiveSpec request;
    request.world_size = kRanks;
    request.count = 100'003;  // uneven blocks, several segments each, pieces and tails
    request.type = type;
    request.op = ReduceOp::kSum;
    request.max_segment_bytes = 40'000;  // not a multiple of the 16 KiB fused piece
    auto plan = PlanRingAllreduce(request);
    ASSERT_TRUE(plan.ok()) << plan.status();
    const size_t elem = DataTypeSize(type);
    std::vector<std::vector<std::byte>> data;
    for (int r = 0; r < kRanks; ++r) {
      data.push_back(Pattern(request.count * elem, 10 + r));
      if (type == DataType::kFloat32) {
        auto* f = reinterpret_cast<float*>(data.back().data());
        for (size_t i = 0; i < request.count; ++i) f[i] = static_cast<float>((i * 7 + r) % 1000);
      }
    }
    std::vector<std::byte> expected = data[0];
    for (int r = 1; r < kRanks; ++r) {
      GetReduceFn(type, ReduceOp::kSum)(expected.data(), data[r].data(), request.count);
    }
    std::vector<absl::Status> statuses(kRanks);
    std::vector<std::thread> threads;
    for (int r = 0; r < kRanks; ++r) {
      threads.emplace_back([&, r] {
        std::vector<Connection*> conns(kRanks);
        for (int p = 0; p < kRanks; ++p) conns[p] = mesh.conns[r][p].get();
        ExecuteArgs args;
        args.plan = &*plan;
        args.rank = r;
        args.connections = conns;
        args.job_id = kJob;
        args.sequence = 1;
        args.data = data[r].data();
        args.deadline = In(absl::Seconds(30));
        statuses[r] = ExecutePlan(args);
      });
    }
    for (auto& t : threads) t.join();
    for (int r = 0; r < kRanks; ++r) {
      ASSERT_TRUE(statuses[r].ok()) << DataTypeName(type) << " rank " << r << ": " << statuses[r];
      EXPECT_TRUE(data[r] == expected) << DataTypeName(type) << " rank " << r;
    }
  }
}

}  // namespace
}  // namespace crosslink::collectives
