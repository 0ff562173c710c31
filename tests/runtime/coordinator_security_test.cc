// Coordinator security (issue 12): who may declare a rank dead, and TLS that keeps the job token
// off the wire. The TLS tests make a self-signed certificate with the openssl command line and
// route the client through a recording TCP proxy, so they can check what actually travelled.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../collectives/test_certificates.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/coordinator_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::HasSubstr;

constexpr char kToken[] = "security-test-token-fedcba9876543210";
constexpr char kLauncherToken[] = "launcher-only-credential-0f0f0f0f";

absl::Time In(absl::Duration d) { return absl::Now() + d; }

CoordinatorOptions Options(int world_size) {
  CoordinatorOptions o;
  o.world_size = world_size;
  o.job_token = kToken;
  o.job_id = "security-test";
  o.launcher_token = kLauncherToken;
  return o;
}

std::unique_ptr<CoordinatorClient> Client(const std::string& address, int rank,
                                          const std::string& ca = "",
                                          const std::string& launcher_token = "") {
  CoordinatorClientOptions o;
  o.address = address;
  o.job_token = kToken;
  o.rank = rank;
  o.tls_ca_file = ca;
  o.launcher_token = launcher_token;
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> client = CoordinatorClient::Create(o);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

std::vector<std::unique_ptr<CoordinatorClient>> RegisteredClients(const std::string& address,
                                                                  int n) {
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int r = 0; r < n; ++r) clients.push_back(Client(address, r));
  std::vector<std::thread> threads;
  for (int r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      const absl::StatusOr<World> w =
          clients[r]->Register(n, absl::StrCat("127.0.0.1:", 9100 + r), In(absl::Seconds(30)));
      EXPECT_TRUE(w.ok()) << w.status();
    });
  }
  for (std::thread& t : threads) t.join();
  return clients;
}

TEST(CoordinatorSecurityTest, ARankCannotDeclareAnotherRankDead) {
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(Options(3));
  ASSERT_TRUE(server.ok()) << server.status();
  auto clients = RegisteredClients((*server)->address(), 3);
  const absl::StatusOr<Membership> lie =
      clients[0]->ReportFailure(1, "rank 1 is dead, trust me", In(absl::Seconds(10)));
  EXPECT_EQ(lie.status().code(), absl::StatusCode::kPermissionDenied) << lie.status();
  EXPECT_THAT(lie.status().message(), HasSubstr("rank 0 may not report rank 1 dead"));
  EXPECT_EQ((*server)->membership().epoch, 1);
  EXPECT_EQ((*server)->membership().FindDead(1), nullptr);
  // A rank may report itself (it is leaving).
  const absl::StatusOr<Membership> self =
      clients[2]->ReportFailure(2, "rank 2 is leaving", In(absl::Seconds(10)));
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(self->epoch, 2);
  ASSERT_NE(self->FindDead(2), nullptr);
}

TEST(CoordinatorSecurityTest, OnlyTheLaunchersCredentialReportsOtherRanks) {
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(Options(2));
  ASSERT_TRUE(server.ok()) << server.status();
  auto clients = RegisteredClients((*server)->address(), 2);
  // A token holder posing as the launcher, without or with a wrong credential.
  for (const std::string& credential : {std::string(), std::string("guess")}) {
    auto impostor = Client((*server)->address(), -1, "", credential);
    const absl::StatusOr<Membership> m =
        impostor->ReportFailure(1, "rank 1 exited", In(absl::Seconds(10)));
    EXPECT_EQ(m.status().code(), absl::StatusCode::kPermissionDenied) << m.status();
    EXPECT_THAT(m.status().message(), HasSubstr("launcher's credential"));
  }
  EXPECT_EQ((*server)->membership().epoch, 1);
  auto launcher = Client((*server)->address(), -1, "", kLauncherToken);
  const absl::StatusOr<Membership> m =
      launcher->ReportFailure(1, "rank 1 exited with status 9", In(absl::Seconds(10)));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->epoch, 2);
  // A coordinator that accepts no remote launcher refuses every such report.
  CoordinatorOptions closed = Options(2);
  closed.launcher_token.clear();
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> other = CoordinatorServer::Start(closed);
  ASSERT_TRUE(other.ok());
  RegisteredClients((*other)->address(), 2);
  EXPECT_EQ(
      Client((*other)->address(), -1)->ReportFailure(0, "", In(absl::Seconds(10))).status().code(),
      absl::StatusCode::kPermissionDenied);
}

// A self-signed certificate for 127.0.0.1 in a fresh folder (the authority's own pair).
using SelfSigned = collectives::testing::TestCertificates;

// Forwards one listening loopback port to `target_port` and records every byte the clients send.
class RecordingProxy {
 public:
  explicit RecordingProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~RecordingProxy() {
    stop_ = true;
    thread_.join();
    close(listen_fd_);
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::string sent() const {
    absl::MutexLock lock(&mu_);
    return sent_;
  }

 private:
  void Loop() {
    std::vector<std::pair<int, int>> pairs;  // client fd, server fd
    while (!stop_) {
      std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
      for (auto [c, s] : pairs) {
        fds.push_back({c, POLLIN, 0});
        fds.push_back({s, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 50) <= 0) continue;
      // Only the pairs that were polled have revents; one accepted below has none yet (reading
      // fds for it ran past the vector's end, an ASan heap-buffer-overflow).
      const size_t polled = pairs.size();
      if (fds[0].revents & POLLIN) {
        const int c = accept(listen_fd_, nullptr, nullptr);
        const int s = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(target_port_));
        if (c >= 0 && connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
          pairs.emplace_back(c, s);
        } else {
          if (c >= 0) close(c);
          close(s);
        }
      }
      for (size_t i = 0; i < polled; ++i) {
        for (int side = 0; side < 2; ++side) {
          if (!(fds[1 + 2 * i + side].revents & (POLLIN | POLLHUP | POLLERR))) continue;
          const int from = side == 0 ? pairs[i].first : pairs[i].second;
          const int to = side == 0 ? pairs[i].second : pairs[i].first;
          char buffer[16384];
          const ssize_t n = read(from, buffer, sizeof(buffer));
          if (n <= 0) {
            shutdown(to, SHUT_WR);
            continue;
          }
          if (side == 0) {
            absl::MutexLock lock(&mu_);
            sent_.append(buffer, static_cast<size_t>(n));
          }
          (void)!write(to, buffer, static_cast<size_t>(n));
        }
      }
    }
    for (auto [c, s] : pairs) {
      close(c);
      close(s);
    }
  }

  const int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  std::string sent_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

TEST(CoordinatorTlsTest, WithTlsTheTokenNeverTravelsInClear) {
  SelfSigned pair("coordinator");
  ASSERT_TRUE(pair.ok()) << "openssl could not make a certificate";
  CoordinatorOptions options = Options(1);
  options.tls_cert_file = pair.cert();
  options.tls_key_file = pair.key();
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  {
    RecordingProxy proxy((*server)->port());
    // The certificate names 127.0.0.1; the proxy listens there too, so verification holds.
    auto client = Client(proxy.address(), 0, pair.cert());
    const absl::StatusOr<World> w = client->Register(1, "127.0.0.1:9200", In(absl::Seconds(30)));
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE(client->KvSet("secret-key-name", "v", In(absl::Seconds(10))).ok());
    const std::string sent = proxy.sent();
    EXPECT_GT(sent.size(), 100u);
    EXPECT_EQ(sent.find(kToken), std::string::npos) << "the job token crossed the wire in clear";
    EXPECT_EQ(sent.find("secret-key-name"), std::string::npos);
  }
  // A client that does not speak TLS gets nowhere (and the server never answers in clear).
  auto plain = Client((*server)->address(), 0);
  EXPECT_EQ(plain->KvSet("k", "v", In(absl::Seconds(5))).code(), absl::StatusCode::kUnavailable);
  // Nor does one that trusts another certificate: it never sends its request to an impostor.
  SelfSigned other("impostor");
  ASSERT_TRUE(other.ok());
  auto misled = Client((*server)->address(), 0, other.cert());
  EXPECT_EQ(misled->KvSet("k", "v", In(absl::Seconds(5))).code(), absl::StatusCode::kUnavailable);
}

TEST(CoordinatorTlsTest, WithoutTlsTheProxySeesTheToken) {
  // The control for the test above: the proxy does see a token sent in clear.
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(Options(1));
  ASSERT_TRUE(server.ok()) << server.status();
  RecordingProxy proxy((*server)->port());
  auto client = Client(proxy.address(), 0);
  ASSERT_TRUE(client->KvSet("k", "v", In(absl::Seconds(10))).ok());
  EXPECT_NE(proxy.sent().find(kToken), std::string::npos);
}

TEST(CoordinatorTlsTest, BadTlsFilesAreClearErrors) {
  SelfSigned pair("coordinator");
  ASSERT_TRUE(pair.ok());
  CoordinatorOptions options = Options(1);
  options.tls_cert_file = pair.cert();
  EXPECT_EQ(CoordinatorServer::Start(options).status().code(),
            absl::StatusCode::kInvalidArgument);  // a certificate without its key
  options.tls_key_file = (pair.dir() / "missing.key").string();
  const absl::Status missing = CoordinatorServer::Start(options).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << missing;
  EXPECT_THAT(missing.message(), HasSubstr("missing.key"));
  CoordinatorClientOptions client;
  client.address = "127.0.0.1:1";
  client.job_token = kToken;
  client.tls_ca_file = "/etc/hostname";  // readable, but no PEM
  const absl::Status not_pem = CoordinatorClient::Create(client).status();
  EXPECT_EQ(not_pem.code(), absl::StatusCode::kInvalidArgument) << not_pem;
  EXPECT_THAT(not_pem.message(), HasSubstr("no PEM"));
}

}  // namespace
}  // namespace crosslink::runtime
