// crosslink-handshake-bench: what the data plane's authenticated handshake and its optional TLS
// cost. Side by side on loopback, each timed per connection (median and 99th percentile):
//   raw tcp    connect + accept + one 56-byte round trip on plain sockets (the floor any
//              handshake pays: the old unauthenticated hello was exactly this)
//   crosslink  TcpContext::Connect + Accept: the four-message challenge-response (two round
//              trips), nonces, four HMAC-SHA256s, and the TcpConnection's threads on both ends
//   tls        the same with TcpOptions::tls: a TLS 1.3 handshake with mutual certificates
//              (P-256 ECDSA, made at start with the openssl command line) before it
//   crypto     the handshake's CPU work alone: two nonces, four HMACs and the session key
// "added" is crosslink minus raw tcp: what authentication adds to setting up one connection;
// "tls added" is tls minus crosslink.
// Then the data path: a float32 sum allreduce (ring) of --allreduce_mib MiB over a 4-rank TCP
// mesh in this process (one thread per rank), plain and TLS alternating, busbw as nccl-tests
// computes it (2(n-1)/n x bytes / time, GB/s = 1e9 B/s), median over --iterations.
//
// Usage: crosslink-handshake-bench [--connections N] [--allreduce_mib M] [--iterations K]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "collectives/src/transport/handshake.h"
#include "crosslink/base/flags.h"
#include "crosslink/collectives/allreduce.h"
#include "crosslink/collectives/transport/tcp_transport.h"
// The tests' throwaway certificate authority (openssl command line), reused rather than copied.
#include "tests/collectives/test_certificates.h"

namespace {

using crosslink::collectives::Context;
using crosslink::collectives::DeriveJobKey;
using crosslink::collectives::JobKey;
using crosslink::collectives::MakeTcpContext;
using crosslink::collectives::TcpOptions;
using crosslink::collectives::TcpTlsOptions;
using crosslink::collectives::testing::TestCertificates;
namespace handshake = crosslink::collectives::handshake;

struct Stats {
  double median_us = 0;
  double p99_us = 0;
};

Stats Summarize(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  return Stats{us[us.size() / 2], us[std::min(us.size() - 1, us.size() * 99 / 100)]};
}

// Plain sockets: connect, accept, the connector sends 56 bytes and the acceptor answers 56.
std::vector<double> RawTcp(int n) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  ::listen(listener, 128);
  socklen_t len = sizeof(sa);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&sa), &len);
  std::thread acceptor([&] {
    char buf[56];
    for (int i = 0; i < n; ++i) {
      const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (::recv(fd, buf, sizeof(buf), MSG_WAITALL) == sizeof(buf)) {
        ::send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
      }
      ::close(fd);
    }
  });
  std::vector<double> us;
  char buf[56] = {};
  for (int i = 0; i < n; ++i) {
    const absl::Time start = absl::Now();
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    ::send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
    ::recv(fd, buf, sizeof(buf), MSG_WAITALL);
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    ::close(fd);
  }
  acceptor.join();
  ::close(listener);
  return us;
}

// The bench's options, with TLS from `pki` (its certificate "rank") when given.
TcpOptions BenchOptions(const TestCertificates* pki) {
  TcpOptions options;
  options.job_key = DeriveJobKey("crosslink-handshake-bench token");
  if (pki != nullptr) {
    options.tls = TcpTlsOptions{pki->cert(), pki->cert_path("rank"), pki->key_path("rank")};
  }
  return options;
}

// TcpContext::Connect on one thread, Accept on another; timed until both hold a connection.
std::vector<double> Crosslink(int n, const TestCertificates* pki) {
  const TcpOptions options = BenchOptions(pki);
  auto listener = MakeTcpContext(1, 42, options);
  auto dialer = MakeTcpContext(0, 42, options);
  if (!listener.ok() || !dialer.ok()) {
    std::fprintf(stderr, "cannot listen on loopback\n");
    std::exit(1);
  }
  std::vector<double> us;
  for (int i = 0; i < n; ++i) {
    const absl::Time start = absl::Now();
    const absl::Time deadline = start + absl::Seconds(10);
    auto c = (*dialer)->Connect(1, (*listener)->address(), deadline);
    auto a = (*listener)->Accept(deadline);
    if (!c.ok() || !a.ok()) {
      std::fprintf(stderr, "connection %d failed: %s\n", i,
                   std::string((c.ok() ? a.status() : c.status()).message()).c_str());
      std::exit(1);
    }
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  return us;
}

// A full mesh of `ranks` TCP contexts in this process; conns[r][p] is rank r's link to p.
struct Mesh {
  std::vector<std::unique_ptr<Context>> contexts;
  std::vector<std::vector<std::unique_ptr<crosslink::collectives::Connection>>> conns;
};

Mesh MakeMesh(int ranks, const TcpOptions& options) {
  Mesh mesh;
  mesh.conns.resize(ranks);
  for (int r = 0; r < ranks; ++r) {
    auto ctx = MakeTcpContext(r, 42, options);
    if (!ctx.ok()) {
      std::fprintf(stderr, "%s\n", ctx.status().ToString().c_str());
      std::exit(1);
    }
    mesh.contexts.push_back(*std::move(ctx));
    mesh.conns[r].resize(ranks);
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (int r = 0; r < ranks; ++r) {
    for (int p = r + 1; p < ranks; ++p) {
      auto c = mesh.contexts[r]->Connect(p, mesh.contexts[p]->address(), deadline);
      auto a = mesh.contexts[p]->Accept(deadline);
      if (!c.ok() || !a.ok()) {
        std::fprintf(stderr, "mesh: %s\n", (c.ok() ? a.status() : c.status()).ToString().c_str());
        std::exit(1);
      }
      mesh.conns[r][p] = *std::move(c);
      mesh.conns[p][r] = std::move(a->second);
    }
  }
  return mesh;
}

// Seconds of one ring allreduce of `count` floats on every rank of `mesh` at once (the slowest).
double TimeAllreduce(Mesh& mesh, size_t count, uint64_t sequence,
                     std::vector<std::vector<float>>& buffers) {
  const int ranks = static_cast<int>(mesh.contexts.size());
  std::vector<absl::Status> statuses(ranks);
  std::vector<std::thread> threads;
  const absl::Time start = absl::Now();
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      crosslink::collectives::CollectiveContext context;
      context.rank = r;
      context.world_size = ranks;
      context.job_id = 42;
      context.sequence = sequence;
      for (int p = 0; p < ranks; ++p) context.connections.push_back(mesh.conns[r][p].get());
      crosslink::collectives::CollectiveOptions options;
      options.algorithm = crosslink::collectives::AllreduceAlgorithm::kRing;
      options.deadline = absl::Now() + absl::Seconds(120);
      statuses[r] = crosslink::collectives::Allreduce(
          context, buffers[r].data(), count, crosslink::collectives::DataType::kFloat32,
          crosslink::collectives::ReduceOp::kSum, options);
    });
  }
  for (std::thread& t : threads) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  for (int r = 0; r < ranks; ++r) {
    if (!statuses[r].ok()) {
      std::fprintf(stderr, "allreduce: %s\n", statuses[r].ToString().c_str());
      std::exit(1);
    }
  }
  return seconds;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<double> Crypto(int n) {
  const JobKey key = DeriveJobKey("crosslink-handshake-bench token");
  std::vector<double> us;
  uint8_t sink = 0;
  for (int i = 0; i < n; ++i) {
    const absl::Time start = absl::Now();
    handshake::Transcript t;
    t.connector_nonce = *handshake::RandomNonce();
    t.acceptor_nonce = *handshake::RandomNonce();
    const handshake::Mac a = handshake::ComputeMac(key, handshake::Role::kAcceptor, t);
    const handshake::Mac c = handshake::ComputeMac(key, handshake::Role::kConnector, t);
    sink ^= handshake::VerifyMac(key, handshake::Role::kAcceptor, t, a) ? 1 : 0;
    sink ^= handshake::VerifyMac(key, handshake::Role::kConnector, t, c) ? 1 : 0;
    sink ^= handshake::DeriveSessionKey(key, t)[0];
    us.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  if (sink == 0xFF) std::printf(" ");  // keeps the work from being optimised away
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 500;
  int allreduce_mib = 64;
  int iterations = 5;
  crosslink::base::FlagSet flags(
      "crosslink-handshake-bench",
      "What the data plane's authenticated handshake and its TLS cost: per connection, and the "
      "busbw of a 4-rank allreduce with and without TLS, side by side on loopback.");
  flags.Int("connections", &n, "connections timed per path").Min(10);
  flags.Int("allreduce_mib", &allreduce_mib, "allreduce size per rank (0: skip)").Min(0);
  flags.Int("iterations", &iterations, "allreduces per transport (median reported)").Min(1);
  if (std::optional<int> exit_code = flags.ParseMain(argc, argv)) return *exit_code;
  TestCertificates pki("crosslink-handshake-bench");
  if (!pki.ok() || !pki.Issue("rank")) {
    std::fprintf(stderr, "openssl could not make the benchmark's certificates\n");
    return 1;
  }
  // Warm-up (page faults, the first thread creations), then the runs side by side.
  RawTcp(20);
  Crosslink(20, nullptr);
  Crosslink(20, &pki);
  const Stats raw = Summarize(RawTcp(n));
  const Stats xl = Summarize(Crosslink(n, nullptr));
  const Stats tls = Summarize(Crosslink(n, &pki));
  const Stats crypto = Summarize(Crypto(n));
  std::printf("# %d connections on loopback, per connection, microseconds\n", n);
  std::printf("%-10s %12s %12s\n", "path", "median_us", "p99_us");
  std::printf("%-10s %12.1f %12.1f\n", "raw_tcp", raw.median_us, raw.p99_us);
  std::printf("%-10s %12.1f %12.1f\n", "crosslink", xl.median_us, xl.p99_us);
  std::printf("%-10s %12.1f %12.1f\n", "tls", tls.median_us, tls.p99_us);
  std::printf("%-10s %12.1f %12.1f\n", "crypto", crypto.median_us, crypto.p99_us);
  std::printf("%-10s %12.1f %12s\n", "added", xl.median_us - raw.median_us, "");
  std::printf("%-10s %12.1f %12s\n", "tls added", tls.median_us - xl.median_us, "");
  if (allreduce_mib == 0) return 0;

  constexpr int kRanks = 4;
  const size_t count = static_cast<size_t>(allreduce_mib) * (1 << 20) / sizeof(float);
  Mesh plain = MakeMesh(kRanks, BenchOptions(nullptr));
  Mesh secure = MakeMesh(kRanks, BenchOptions(&pki));
  std::vector<std::vector<float>> buffers(kRanks, std::vector<float>(count, 1.0f));
  std::vector<double> plain_s, tls_s;
  // One warm-up each, then alternating, so that both see the same machine load.
  TimeAllreduce(plain, count, 0, buffers);
  TimeAllreduce(secure, count, 0, buffers);
  for (int i = 1; i <= iterations; ++i) {
    plain_s.push_back(TimeAllreduce(plain, count, i, buffers));
    tls_s.push_back(TimeAllreduce(secure, count, i, buffers));
  }
  const double bytes = static_cast<double>(count * sizeof(float));
  const double factor = 2.0 * (kRanks - 1) / kRanks;
  const double plain_busbw = factor * bytes / Median(plain_s) / 1e9;
  const double tls_busbw = factor * bytes / Median(tls_s) / 1e9;
  std::printf("# ring allreduce, %d ranks over loopback TCP, %d MiB float32 sum, median of %d\n",
              kRanks, allreduce_mib, iterations);
  std::printf("%-10s %12s %12s\n", "transport", "time_ms", "busbw_GB/s");
  std::printf("%-10s %12.1f %12.3f\n", "tcp", Median(plain_s) * 1e3, plain_busbw);
  std::printf("%-10s %12.1f %12.3f\n", "tcp+tls", Median(tls_s) * 1e3, tls_busbw);
  std::printf("%-10s %12s %12.3f\n", "tls/tcp", "", tls_busbw / plain_busbw);
  return 0;
}
