// A hostile peer for the data plane's tests: it dials a live rank's listening port as any process
// on the host or network could, without the job key, and misbehaves (garbage, a frame header
// with a huge length, replayed handshakes, trickled bytes, idle connections). Every call has a
// deadline; nothing here trusts the victim either.
#ifndef CROSSLINK_TESTS_COLLECTIVES_HOSTILE_PEER_H_
#define CROSSLINK_TESTS_COLLECTIVES_HOSTILE_PEER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crosslink::collectives::testing {

// A TCP connection to "127.0.0.1:port" (IPv4 loopback addresses only: what the tests listen on);
// -1 when it cannot connect.
inline int DialLoopback(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) return -1;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool SendBytes(int fd, const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Reads what arrives until the peer closes (returns the bytes and true) or `deadline` passes
// (false).
inline bool ReadUntilClosed(int fd, absl::Time deadline, std::vector<std::byte>* got = nullptr) {
  char buf[4096];
  for (;;) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(ms)) <= 0) continue;
    const ssize_t r = ::recv(fd, buf, sizeof(buf), 0);
    if (r <= 0) return true;  // end of stream or reset: the victim dropped us
    if (got != nullptr) {
      const auto* b = reinterpret_cast<const std::byte*>(buf);
      got->insert(got->end(), b, b + r);
    }
  }
}

// A man in the middle on loopback: listens, and for the one connection it accepts dials
// `upstream` and relays both ways, recording what the client sent. How a test obtains a real
// handshake to replay elsewhere.
class RecordingRelay {
 public:
  explicit RecordingRelay(std::string upstream) : upstream_(std::move(upstream)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof(sa);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    address_ = "127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
    thread_ = std::thread([this] { Run(); });
  }
  ~RecordingRelay() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  const std::string& address() const { return address_; }
  std::vector<std::byte> client_bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return client_bytes_;
  }

 private:
  void Run() {
    pollfd lp{listen_fd_, POLLIN, 0};
    while (!stop_ && ::poll(&lp, 1, 20) <= 0) {
    }
    if (stop_) return;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    const int server = DialLoopback(upstream_);
    if (client < 0 || server < 0) return;
    char buf[4096];
    while (!stop_) {
      pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(p, 2, 20) <= 0) continue;
      if (p[0].revents != 0) {
        const ssize_t r = ::recv(client, buf, sizeof(buf), 0);
        if (r <= 0) break;
        {
          std::lock_guard<std::mutex> lock(mu_);
          const auto* b = reinterpret_cast<const std::byte*>(buf);
          client_bytes_.insert(client_bytes_.end(), b, b + r);
        }
        if (!SendBytes(server, buf, static_cast<size_t>(r))) break;
      }
      if (p[1].revents != 0) {
        const ssize_t r = ::recv(server, buf, sizeof(buf), 0);
        if (r <= 0 || !SendBytes(client, buf, static_cast<size_t>(r))) break;
      }
    }
    ::close(client);
    ::close(server);
  }

  std::string upstream_;
  std::string address_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::byte> client_bytes_;
};

}  // namespace crosslink::collectives::testing

#endif  // CROSSLINK_TESTS_COLLECTIVES_HOSTILE_PEER_H_
