// crosslink-handshake-bench: what the data plane's authenticated handshake costs per connection.
// Side by side on loopback, each timed per connection (median and 99th percentile):
//   raw tcp    connect + accept + one 56-byte round trip on plain sockets (the floor any
//              handshake pays: the old unauthenticated hello was exactly this)
//   crosslink  TcpContext::Connect + Accept: the four-message challenge-response (two round
//              trips), nonces, four HMAC-SHA256s, and the TcpConnection's threads on both ends
//   crypto     the handshake's CPU work alone: two nonces, four HMACs and the session key
// "added" is crosslink minus raw tcp: what authentication adds to setting up one connection.
//
// Usage: crosslink-handshake-bench [--connections N]   (default 500)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "collectives/src/transport/handshake.h"
#include "crosslink/collectives/transport/tcp_transport.h"

namespace {

using crosslink::collectives::Context;
using crosslink::collectives::DeriveJobKey;
using crosslink::collectives::JobKey;
using crosslink::collectives::MakeTcpContext;
using crosslink::collectives::TcpOptions;
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

// TcpContext::Connect on one thread, Accept on another; timed until both hold a connection.
std::vector<double> Crosslink(int n) {
  TcpOptions options;
  options.job_key = DeriveJobKey("crosslink-handshake-bench token");
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
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--connections") == 0 && i + 1 < argc) {
      n = std::max(10, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--connections N]\n", argv[0]);
      return 2;
    }
  }
  // Warm-up (page faults, the first thread creations), then the runs side by side.
  RawTcp(20);
  Crosslink(20);
  const Stats raw = Summarize(RawTcp(n));
  const Stats xl = Summarize(Crosslink(n));
  const Stats crypto = Summarize(Crypto(n));
  std::printf("# %d connections on loopback, per connection, microseconds\n", n);
  std::printf("%-10s %12s %12s\n", "path", "median_us", "p99_us");
  std::printf("%-10s %12.1f %12.1f\n", "raw_tcp", raw.median_us, raw.p99_us);
  std::printf("%-10s %12.1f %12.1f\n", "crosslink", xl.median_us, xl.p99_us);
  std::printf("%-10s %12.1f %12.1f\n", "crypto", crypto.median_us, crypto.p99_us);
  std::printf("%-10s %12.1f %12s\n", "added", xl.median_us - raw.median_us, "");
  return 0;
}
