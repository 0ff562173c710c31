// The shared-memory transport beyond the conformance suite: when it upgrades and when it stays on
// TCP, rings that wrap, no segment left in /dev/shm, and a peer that closes or dies mid-message
// (kUnavailable, never a hang). The dying peer is a real second process: this test binary run
// again with a filter that selects ShmChildProcess, told what to do through the environment.
#include "crosslink/collectives/transport/shm_transport.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../../collectives/src/transport/shm/shm_ring.h"
#include "../../collectives/src/transport/tcp/tcp_connection.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "crosslink/collectives/transport/crc32c.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "gtest/gtest.h"
#include "transport_test_util.h"

namespace crosslink::collectives {
namespace {

using testing::In;
using testing::Pattern;

constexpr char kChildAddressEnv[] = "CROSSLINK_SHM_TEST_PEER_ADDRESS";
constexpr char kChildJobEnv[] = "CROSSLINK_SHM_TEST_JOB";

struct Pair {
  std::unique_ptr<ShmContext> ctx0, ctx1;
  std::unique_ptr<Connection> a, b;  // rank 0's end, rank 1's end
};

Pair Connect(uint64_t job, const ShmOptions& options0 = {}, const ShmOptions& options1 = {}) {
  Pair p;
  auto c0 = MakeShmContext(0, job, options0);
  auto c1 = MakeShmContext(1, job, options1);
  EXPECT_TRUE(c0.ok() && c1.ok());
  p.ctx0 = std::move(c0).value();
  p.ctx1 = std::move(c1).value();
  auto a = p.ctx0->Connect(1, p.ctx1->address(), In(absl::Seconds(10)));
  EXPECT_TRUE(a.ok()) << a.status();
  auto b = p.ctx1->Accept(In(absl::Seconds(10)));
  EXPECT_TRUE(b.ok()) << b.status();
  p.a = std::move(a).value();
  p.b = std::move(b->second);
  return p;
}

// Names in /dev/shm that carry this job's id (segment names start with it).
// Segments in /dev/shm created by process `pid` (their names carry the creator's pid).
std::vector<std::string> SegmentsOf(pid_t pid) {
  std::vector<std::string> found;
  const std::string prefix = absl::StrFormat("crosslink-%d-", pid);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) found.push_back(name);
  }
  return found;
}

TEST(ShmTransportTest, RanksOfOneHostTalkThroughSharedMemory) {
  Pair p = Connect(0x5e1);
  EXPECT_TRUE(IsSharedMemoryConnection(*p.a));
  EXPECT_TRUE(IsSharedMemoryConnection(*p.b));
  EXPECT_NE(p.a->Describe().find("(shm "), std::string::npos) << p.a->Describe();
  EXPECT_NE(p.b->Describe().find("rank 1 -> rank 0 (shm "), std::string::npos) << p.b->Describe();
  // Unlinked as soon as both ends mapped it: a process that dies now leaves nothing behind.
  EXPECT_TRUE(SegmentsOf(::getpid()).empty());
}

TEST(ShmTransportTest, WithoutAnOfferTheConnectionStaysTcpAndWorks) {
  ShmOptions no_offer;
  no_offer.offer = false;
  Pair p = Connect(0x5e2, no_offer);
  EXPECT_FALSE(IsSharedMemoryConnection(*p.a));
  EXPECT_FALSE(IsSharedMemoryConnection(*p.b));
  std::vector<std::byte> in(100);
  auto r = p.b->Recv(absl::MakeSpan(in));
  ASSERT_TRUE(p.a->Send(FrameHeader{}, Pattern(100, 1))->Wait(In(absl::Seconds(10))).ok());
  ASSERT_TRUE(r->Wait(In(absl::Seconds(10))).ok());
  EXPECT_TRUE(in == Pattern(100, 1));
}

TEST(ShmTransportTest, AnAcceptorThatDeclinesKeepsTcpAndLeavesNoSegment) {
  ShmOptions no_accept;
  no_accept.accept = false;
  Pair p = Connect(0x5e3, {}, no_accept);
  EXPECT_FALSE(IsSharedMemoryConnection(*p.a));
  EXPECT_FALSE(IsSharedMemoryConnection(*p.b));
  EXPECT_TRUE(SegmentsOf(::getpid()).empty());
}

TEST(ShmTransportTest, OfferSwitchedOffAfterCreationKeepsTcp) {
  auto c0 = MakeShmContext(0, 0x5e4);
  auto c1 = MakeShmContext(1, 0x5e4);
  ASSERT_TRUE(c0.ok() && c1.ok());
  (*c0)->set_offer_shared_memory(false);
  auto a = (*c0)->Connect(1, (*c1)->address(), In(absl::Seconds(10)));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(IsSharedMemoryConnection(**a));
}

TEST(ShmTransportTest, MessagesLargerThanTheRingWrapItIntact) {
  ShmOptions small;
  small.ring_bytes = 64 << 10;  // every message below wraps it several times
  small.piece_bytes = 10000;    // pieces that do not divide the ring: copies split at its end
  small.pull_min_bytes = 0;     // every payload through the ring
  Pair p = Connect(0x5e5, small, small);
  ASSERT_TRUE(IsSharedMemoryConnection(*p.a));
  constexpr int kMessages = 20;
  std::vector<std::vector<std::byte>> out_a, out_b, in_a(kMessages), in_b(kMessages);
  std::vector<std::shared_ptr<Handle>> handles;
  std::vector<std::shared_ptr<RecvHandle>> recv_a, recv_b;
  for (int i = 0; i < kMessages; ++i) {
    const size_t n = 300'000 + i * 7919;  // odd sizes, so frame boundaries drift around the ring
    out_a.push_back(Pattern(n, 100 + i));
    out_b.push_back(Pattern(n, 200 + i));
    in_a[i].resize(n);
    in_b[i].resize(n);
    recv_b.push_back(p.b->Recv(absl::MakeSpan(in_b[i])));
    recv_a.push_back(p.a->Recv(absl::MakeSpan(in_a[i])));
  }
  // Both directions at once: each ring has its own producer and consumer.
  for (int i = 0; i < kMessages; ++i) {
    handles.push_back(p.a->Send(FrameHeader{.chunk = static_cast<uint32_t>(i)}, out_a[i]));
    handles.push_back(p.b->Send(FrameHeader{.chunk = static_cast<uint32_t>(i)}, out_b[i]));
  }
  for (auto& h : handles) ASSERT_TRUE(h->Wait(In(absl::Seconds(30))).ok());
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(recv_b[i]->Wait(In(absl::Seconds(30))).ok());
    ASSERT_TRUE(recv_a[i]->Wait(In(absl::Seconds(30))).ok());
    EXPECT_EQ(recv_b[i]->header().chunk, static_cast<uint32_t>(i));
    EXPECT_TRUE(in_b[i] == out_a[i]) << i;
    EXPECT_TRUE(in_a[i] == out_b[i]) << i;
  }
}

TEST(ShmTransportTest, SendWithCrcTrustsTheGivenChecksumAndTheReceiverVerifiesIt) {
  Pair p = Connect(0x5e9);
  ASSERT_TRUE(IsSharedMemoryConnection(*p.a));
  const std::vector<std::byte> payload = Pattern(100'000, 11);
  std::vector<std::byte> in(payload.size());
  auto good = p.b->Recv(absl::MakeSpan(in));
  p.a->SendWithCrc(FrameHeader{}, payload, Crc32c(payload));
  ASSERT_TRUE(good->Wait(In(absl::Seconds(10))).ok());
  EXPECT_TRUE(in == payload);
  // A wrong known CRC is caught on receive, as corruption in the ring would be.
  auto bad = p.b->Recv(absl::MakeSpan(in));
  auto send = p.a->SendWithCrc(FrameHeader{}, payload, Crc32c(payload) ^ 0x10);
  EXPECT_EQ(bad->Wait(In(absl::Seconds(10))).code(), absl::StatusCode::kDataLoss);
  (void)send->Wait(In(absl::Seconds(10)));  // the payload must outlive its send
}

TEST(ShmTransportTest, RecvAllocatedSizesItsBufferToTheMessage) {
  Pair p = Connect(0x5ea);
  ASSERT_TRUE(IsSharedMemoryConnection(*p.a));
  // One posted before the message arrives, one after it waits as an unexpected message.
  auto first = std::make_shared<std::vector<std::byte>>();
  auto r1 = p.b->RecvAllocated(first);
  ASSERT_TRUE(p.a->Send(FrameHeader{.tag = 1}, Pattern(777, 12))->Wait(In(absl::Seconds(10))).ok());
  ASSERT_TRUE(p.a->Send(FrameHeader{.tag = 2}, Pattern(5, 13))->Wait(In(absl::Seconds(10))).ok());
  ASSERT_TRUE(r1->Wait(In(absl::Seconds(10))).ok());
  EXPECT_TRUE(*first == Pattern(777, 12));
  auto second = std::make_shared<std::vector<std::byte>>();
  auto r2 = p.b->RecvAllocated(second);
  ASSERT_TRUE(r2->Wait(In(absl::Seconds(10))).ok());
  EXPECT_EQ(r2->header().tag, 2u);
  EXPECT_TRUE(*second == Pattern(5, 13));
}

TEST(ShmTransportTest, CloseMidMessageFailsBothEndsWithUnavailable) {
  // Through the ring, and pulled from the sender's memory (whose buffer its caller may reuse as
  // soon as Close fails the send, so the receive must not complete with it).
  for (size_t pull_min_bytes : {size_t{0}, size_t{64 << 10}}) {
    SCOPED_TRACE(absl::StrCat("pull_min_bytes ", pull_min_bytes));
    ShmOptions small;
    small.ring_bytes = 64 << 10;
    small.piece_bytes = 16 << 10;
    small.pull_min_bytes = pull_min_bytes;
    Pair p = Connect(0x5e6 + pull_min_bytes, small);
    ASSERT_TRUE(IsSharedMemoryConnection(*p.a));
    const std::vector<std::byte> big = Pattern(64 << 20, 7);
    ASSERT_NE(big.front(), std::byte{0});
    std::vector<std::byte> in(big.size());
    auto recv = p.b->Recv(absl::MakeSpan(in));
    auto send = p.a->Send(FrameHeader{}, big);
    // Let the message get under way: 64 MiB cannot cross in 1 ms (64 GB/s). Not by watching `in`
    // fill: the receiver thread writes it, so reading it here, even through atomic_ref, is a data
    // race (ThreadSanitizer reports it). Closing before the first byte would end the same way.
    absl::SleepFor(absl::Milliseconds(1));
    p.a->Close(absl::AbortedError("test closes rank 0 mid-message"));
    EXPECT_EQ(recv->Wait(In(absl::Seconds(5))).code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(send->Wait(In(absl::Seconds(5))).code(), absl::StatusCode::kAborted);
    EXPECT_EQ(p.b->status().code(), absl::StatusCode::kUnavailable);
  }
}

TEST(ShmTransportTest, ConnectToAPeerThatNeverAnswersTheOfferFailsByItsDeadline) {
  // A plain TCP context accepts the connection but does not speak the upgrade handshake.
  auto mute = MakeTcpContext(1, 0x5e7);
  auto ctx = MakeShmContext(0, 0x5e7);
  ASSERT_TRUE(mute.ok() && ctx.ok());
  const absl::Time start = absl::Now();
  auto c = (*ctx)->Connect(1, (*mute)->address(), start + absl::Milliseconds(300));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable) << c.status();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(300) + absl::Milliseconds(500));
  EXPECT_NE(c.status().message().find("rank 1"), std::string::npos) << c.status();
  EXPECT_TRUE(SegmentsOf(::getpid()).empty());
}

// Plays the connector's half of the upgrade by hand over an authenticated TCP connection of the
// job: creates a segment tagged under `tag_key` (the connection's real session key, or another),
// offers it, and returns whether the acceptor took it.
bool OfferPlantedSegment(bool right_key, bool acceptor_accepts, std::string* name) {
  constexpr uint64_t kJob = 0x5ec;
  ShmOptions acceptor_options;
  acceptor_options.accept = acceptor_accepts;
  auto acceptor = MakeShmContext(1, kJob, acceptor_options);
  auto dialer = MakeTcpContext(0, kJob);
  EXPECT_TRUE(acceptor.ok() && dialer.ok());
  auto tcp = (*dialer)->Connect(1, (*acceptor)->address(), In(absl::Seconds(10)));
  EXPECT_TRUE(tcp.ok()) << tcp.status();
  const auto* connection = dynamic_cast<const tcp_internal::TcpConnection*>(tcp->get());
  EXPECT_NE(connection, nullptr);
  handshake::SessionKey key = connection->session_key();
  if (!right_key) key[0] ^= 1;
  *name = shm_internal::SegmentName(0x1234, 0x5678);
  auto segment = shm_internal::Segment::Create(*name, key, 0, 1, 64 << 10);
  EXPECT_TRUE(segment.ok()) << segment.status();
  (*segment)->PublishProcess(0);
  std::array<std::byte, 256> answer_bytes;
  auto answer = (*tcp)->Recv(absl::MakeSpan(answer_bytes));
  constexpr uint32_t kOfferTag = 0x4F4D4853;  // "SHMO", shm_context.cc
  EXPECT_TRUE((*tcp)
                  ->Send(FrameHeader{.tag = kOfferTag},
                         absl::MakeConstSpan(reinterpret_cast<const std::byte*>(name->data()),
                                             name->size()))
                  ->Wait(In(absl::Seconds(10)))
                  .ok());
  EXPECT_TRUE(answer->Wait(In(absl::Seconds(10))).ok());
  // This connector never unlinks: whatever is left in /dev/shm now would leak were it to die.
  return answer->header().chunk == 1;
}

bool SegmentExists(const std::string& name) { return std::filesystem::exists("/dev/shm" + name); }

TEST(ShmTransportTest, SegmentNotTaggedUnderTheConnectionsSessionKeyIsRefused) {
  std::string name;
  EXPECT_FALSE(OfferPlantedSegment(/*right_key=*/false, /*acceptor_accepts=*/true, &name));
  EXPECT_FALSE(SegmentExists(name));
  EXPECT_TRUE(OfferPlantedSegment(/*right_key=*/true, /*acceptor_accepts=*/true, &name));
  EXPECT_FALSE(SegmentExists(name));
}

TEST(ShmTransportTest, DeclinedOfferLeavesNoSegmentEvenIfTheConnectorDies) {
  std::string name;
  EXPECT_FALSE(OfferPlantedSegment(/*right_key=*/true, /*acceptor_accepts=*/false, &name));
  EXPECT_FALSE(SegmentExists(name));
}

TEST(ShmTransportTest, SegmentNamesCarryNeitherJobIdNorKey) {
  const std::string name = shm_internal::SegmentName(0xaaaa, 0xbbbb);
  EXPECT_TRUE(shm_internal::IsSegmentName(name));
  EXPECT_EQ(name.find(absl::StrFormat("%016x", 0x5e1)), std::string::npos);
  EXPECT_EQ(name.rfind(absl::StrCat("/crosslink-", ::getpid(), "-"), 0), 0u) << name;
  EXPECT_FALSE(shm_internal::IsSegmentName("/crosslink-12-zz"));
  EXPECT_FALSE(shm_internal::IsSegmentName("/etc/passwd"));
}

TEST(ShmTransportTest, APeerThatNeverSendsItsOfferDelaysNobodyElse) {
  constexpr uint64_t kJob = 0x5ee;
  auto acceptor = MakeShmContext(2, kJob);  // handshake_timeout 10 s
  auto mute = MakeTcpContext(0, kJob);      // authenticates, then says nothing
  auto rank1 = MakeShmContext(1, kJob);
  ASSERT_TRUE(acceptor.ok() && mute.ok() && rank1.ok());
  auto silent = (*mute)->Connect(2, (*acceptor)->address(), In(absl::Seconds(10)));
  ASSERT_TRUE(silent.ok()) << silent.status();
  absl::SleepFor(absl::Milliseconds(200));  // the acceptor is waiting for its offer
  const absl::Time start = absl::Now();
  auto c = (*rank1)->Connect(2, (*acceptor)->address(), In(absl::Seconds(30)));
  ASSERT_TRUE(c.ok()) << c.status();
  auto a = (*acceptor)->Accept(In(absl::Seconds(30)));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->first, 1);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));  // not after the mute peer's 10 s
}

TEST(ShmTransportTest, SegmentOfAKilledConnectorIsRemovedByTheNextContext) {
  // A process that exits at once: its pid is dead (and, within this test, not reused).
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  const std::string name = absl::StrFormat("/crosslink-%d-%032x", child, 0);
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_TRUE(SegmentExists(name));
  auto ctx = MakeShmContext(0, 0x5ed);
  ASSERT_TRUE(ctx.ok());
  EXPECT_FALSE(SegmentExists(name));
}

// Starts this binary again as rank 1 of `job`, running ShmChildProcess.ConnectsSendsAndDies.
pid_t SpawnChild(const std::string& address, uint64_t job) {
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = {exe, "--gtest_filter=ShmChildProcess.ConnectsSendsAndDies"};
  std::vector<std::string> env = {absl::StrCat(kChildAddressEnv, "=", address),
                                  absl::StrCat(kChildJobEnv, "=", job)};
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execve(exe.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

TEST(ShmTransportTest, PeerProcessKilledMidMessageFailsTheReceiveWithUnavailable) {
  constexpr uint64_t kJob = 0x5e8;
  auto ctx = MakeShmContext(0, kJob);
  ASSERT_TRUE(ctx.ok());
  const pid_t child = SpawnChild((*ctx)->address(), kJob);
  ASSERT_GT(child, 0);
  auto accepted = (*ctx)->Accept(In(absl::Seconds(30)));
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  std::unique_ptr<Connection> conn = std::move(accepted->second);
  EXPECT_EQ(accepted->first, 1);
  ASSERT_TRUE(IsSharedMemoryConnection(*conn));
  // The child proves the connection works with one small message, then starts a 64 MiB one and
  // kills itself (SIGKILL: no destructor runs, no close flag is set; only the kernel closing its
  // socket tells us).
  std::vector<std::byte> small(64);
  ASSERT_TRUE(conn->Recv(absl::MakeSpan(small))->Wait(In(absl::Seconds(30))).ok());
  EXPECT_TRUE(small == Pattern(64, 9));
  std::vector<std::byte> big(64 << 20);
  auto recv = conn->Recv(absl::MakeSpan(big));
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) << wstatus;
  const absl::Time start = absl::Now();
  EXPECT_EQ(recv->Wait(In(absl::Seconds(10))).code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(conn->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(SegmentsOf(child).empty());
}

// Runs only as the child of the test above.
TEST(ShmChildProcess, ConnectsSendsAndDies) {
  const char* address = std::getenv(kChildAddressEnv);
  const char* job_text = std::getenv(kChildJobEnv);
  uint64_t job = 0;
  if (address == nullptr || job_text == nullptr || !absl::SimpleAtoi(job_text, &job)) {
    GTEST_SKIP() << "runs only as the peer process of ShmTransportTest";
  }
  ShmOptions small;
  small.ring_bytes = 64 << 10;  // the 64 MiB message cannot be in the ring whole
  auto ctx = MakeShmContext(1, job, small);
  ASSERT_TRUE(ctx.ok());
  auto conn = (*ctx)->Connect(0, address, In(absl::Seconds(30)));
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE((*conn)->Send(FrameHeader{}, Pattern(64, 9))->Wait(In(absl::Seconds(30))).ok());
  const std::vector<std::byte> big = Pattern(64 << 20, 10);
  (*conn)->Send(FrameHeader{}, big);
  ::raise(SIGKILL);
}

}  // namespace
}  // namespace crosslink::collectives
