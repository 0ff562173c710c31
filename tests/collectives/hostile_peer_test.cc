// A live job under attack: three ranks set up their data mesh and run allreduces over TCP while a
// hostile peer (hostile_peer.h), holding no job key, hammers every rank's listening port with
// garbage, frame headers announcing huge payloads, handshakes replayed from another job,
// trickled handshakes and hundreds of idle connections. The job must set up within its deadline
// and compute correct results; the attacks must cost it nothing but the descriptors the bounds
// allow. (Hostile input on an authenticated link, such as a forged acknowledgement or a huge
// length from a peer that holds the key, fails that one connection with a clear status: the
// frame_matcher and resumable_connection suites test those.)
#include "hostile_peer.h"

#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "crosslink/collectives/allreduce.h"
#include "crosslink/collectives/collective_context.h"
#include "crosslink/collectives/transport/frame.h"
#include "crosslink/collectives/transport/shm_transport.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "gtest/gtest.h"
#include "transport_test_util.h"

namespace crosslink::collectives {
namespace {

using testing::DialLoopback;
using testing::In;
using testing::ReadUntilClosed;
using testing::RecordingRelay;
using testing::SendBytes;

constexpr int kRanks = 3;
constexpr char kToken[] = "hostile-peer-test token";

// Attacks every address in `targets` until `stop`, from its own threads; counts attempts.
class Attacker {
 public:
  Attacker(std::vector<std::string> targets, std::vector<std::byte> replayable)
      : targets_(std::move(targets)), replayable_(std::move(replayable)) {
    // Hundreds of idle connections, held for the whole attack.
    for (int i = 0; i < 300; ++i) {
      const int fd = DialLoopback(targets_[i % targets_.size()]);
      if (fd >= 0) idle_.push_back(fd);
    }
    threads_.emplace_back([this] { Loop(); });
    for (const std::string& target : targets_) {
      threads_.emplace_back([this, target] { Trickle(target); });
    }
  }
  ~Attacker() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    for (int fd : idle_) ::close(fd);
  }
  int attempts() const { return attempts_.load(); }
  size_t idle() const { return idle_.size(); }

 private:
  void Loop() {
    std::mt19937 rng(1);
    while (!stop_) {
      for (const std::string& target : targets_) {
        // Garbage.
        std::vector<uint8_t> junk(4096);
        for (auto& b : junk) b = static_cast<uint8_t>(rng());
        Fire(target, junk.data(), junk.size());
        // A well-formed frame header (this job's public tag, valid checksum) announcing 2^62
        // payload bytes, where a handshake is expected.
        FrameHeader header;
        header.job_id = DeriveJobTag(kToken);
        header.length = uint64_t{1} << 62;
        const EncodedFrameHeader encoded = EncodeFrameHeader(header);
        Fire(target, encoded.data(), encoded.size());
        // A handshake recorded in another job, replayed with this job's tag.
        Fire(target, replayable_.data(), replayable_.size());
        attempts_ += 3;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  // Sends `n` bytes, then waits (briefly) for the victim to drop the connection.
  void Fire(const std::string& target, const void* data, size_t n) {
    const int fd = DialLoopback(target);
    if (fd < 0) return;
    SendBytes(fd, data, n);
    ReadUntilClosed(fd, In(absl::Milliseconds(500)));
    ::close(fd);
  }
  // A byte every 200 ms on one connection after another, for as long as the attack lasts.
  void Trickle(const std::string& target) {
    while (!stop_) {
      const int fd = DialLoopback(target);
      if (fd < 0) return;
      std::array<std::byte, 64> bytes{};
      for (size_t i = 0; i < bytes.size() && !stop_; ++i) {
        if (!SendBytes(fd, &bytes[i], 1)) break;
        if (ReadUntilClosed(fd, In(absl::Milliseconds(200)))) break;
      }
      ::close(fd);
    }
  }

  const std::vector<std::string> targets_;
  const std::vector<std::byte> replayable_;
  std::vector<int> idle_;
  std::atomic<bool> stop_{false};
  std::atomic<int> attempts_{0};
  std::vector<std::thread> threads_;
};

// A real handshake's client bytes from another job, its tag rewritten to this job's.
std::vector<std::byte> RecordHandshakeOfAnotherJob() {
  TcpOptions other;
  other.job_key = DeriveJobKey("another job's token");
  auto listener = MakeTcpContext(1, DeriveJobTag("another job's token"), other);
  auto dialer = MakeTcpContext(0, DeriveJobTag("another job's token"), other);
  EXPECT_TRUE(listener.ok() && dialer.ok());
  RecordingRelay relay((*listener)->address());
  EXPECT_TRUE((*dialer)->Connect(1, relay.address(), In(absl::Seconds(10))).ok());
  std::vector<std::byte> bytes = relay.client_bytes();
  const uint64_t tag = DeriveJobTag(kToken);
  if (bytes.size() >= 16) std::memcpy(bytes.data() + 8, &tag, 8);
  return bytes;
}

TEST(HostilePeerTest, JobSetsUpAndComputesCorrectlyUnderAttack) {
  const std::vector<std::byte> replayable = RecordHandshakeOfAnotherJob();
  ASSERT_FALSE(replayable.empty());
  std::vector<std::unique_ptr<Context>> contexts;
  std::vector<std::string> addresses;
  for (int r = 0; r < kRanks; ++r) {
    ShmOptions options;
    options.tcp.job_key = DeriveJobKey(kToken);
    // Short, so that a test run sees stuck handshakes expire; the job's setup deadline below is
    // many times this, yet far below what a listener that waits on each stuck peer in turn would
    // need (100 idle connections per rank x 3 s).
    options.tcp.handshake_timeout = absl::Seconds(3);
    auto ctx = MakeShmContext(r, DeriveJobTag(kToken), options);
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    addresses.push_back((*ctx)->address());
    contexts.push_back(*std::move(ctx));
  }
  Attacker attacker(addresses, replayable);
  ASSERT_GT(attacker.idle(), 250u);
  absl::SleepFor(absl::Milliseconds(300));  // the attack is under way before the job connects

  // Setup as the communicator does it: connect to the ranks above, accept the ones below.
  const absl::Time setup_deadline = In(absl::Seconds(30));
  const absl::Time setup_start = absl::Now();
  std::vector<std::vector<std::unique_ptr<Connection>>> conns(kRanks);
  std::vector<absl::Status> setup(kRanks);
  {
    std::vector<std::thread> threads;
    for (int r = 0; r < kRanks; ++r) {
      conns[r].resize(kRanks);
      threads.emplace_back([&, r] {
        for (int p = r + 1; p < kRanks; ++p) {
          auto c = contexts[r]->Connect(p, addresses[p], setup_deadline);
          if (!c.ok()) {
            setup[r] = c.status();
            return;
          }
          conns[r][p] = *std::move(c);
        }
        for (int i = 0; i < r; ++i) {
          auto a = contexts[r]->Accept(setup_deadline);
          if (!a.ok()) {
            setup[r] = a.status();
            return;
          }
          if (a->first < 0 || a->first >= r || conns[r][a->first] != nullptr) {
            setup[r] = absl::InternalError(absl::StrCat("unexpected peer rank ", a->first));
            return;
          }
          conns[r][a->first] = std::move(a->second);
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  for (int r = 0; r < kRanks; ++r) ASSERT_TRUE(setup[r].ok()) << "rank " << r << ": " << setup[r];
  const absl::Duration setup_took = absl::Now() - setup_start;
  EXPECT_LT(setup_took, absl::Seconds(10)) << "setup took " << setup_took;

  // Allreduces while the attack goes on: correct sums, every time.
  constexpr size_t kCount = 200'000;
  for (int round = 0; round < 5; ++round) {
    std::vector<std::vector<float>> data(kRanks, std::vector<float>(kCount));
    for (int r = 0; r < kRanks; ++r) {
      for (size_t i = 0; i < kCount; ++i) data[r][i] = static_cast<float>((r + 1) * (i % 97));
    }
    std::vector<absl::Status> results(kRanks);
    std::vector<std::thread> threads;
    for (int r = 0; r < kRanks; ++r) {
      threads.emplace_back([&, r] {
        CollectiveContext context;
        context.rank = r;
        context.world_size = kRanks;
        context.job_id = DeriveJobTag(kToken);
        context.sequence = static_cast<uint64_t>(round);
        for (int p = 0; p < kRanks; ++p) context.connections.push_back(conns[r][p].get());
        CollectiveOptions options;
        options.timeout = absl::Seconds(60);
        results[r] =
            Allreduce(context, data[r].data(), kCount, DataType::kFloat32, ReduceOp::kSum, options);
      });
    }
    for (auto& t : threads) t.join();
    for (int r = 0; r < kRanks; ++r) {
      ASSERT_TRUE(results[r].ok()) << "round " << round << " rank " << r << ": " << results[r];
      size_t wrong = 0;
      for (size_t i = 0; i < kCount; ++i) {
        if (data[r][i] != static_cast<float>(6 * (i % 97))) ++wrong;
      }
      EXPECT_EQ(wrong, 0u) << "round " << round << " rank " << r;
    }
  }
  EXPECT_GT(attacker.attempts(), 0);
  // Nothing the attacker sent became a connection.
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(contexts[r]->Accept(In(absl::Milliseconds(100))).status().code(),
              absl::StatusCode::kDeadlineExceeded);
  }
}

}  // namespace
}  // namespace crosslink::collectives
