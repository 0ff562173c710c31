// TcpContext: the listener with its accept thread, Connect with retries, and the handshake.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "hello_codec.h"
#include "tcp_connection.h"

namespace crosslink::collectives {
namespace {

using tcp_internal::TcpConnection;

using tcp_internal::DecodeHello;
using tcp_internal::EncodeHello;
using tcp_internal::Hello;
using tcp_internal::kHelloBytes;
constexpr uint16_t kAccepted = tcp_internal::kHelloAccepted;
constexpr uint16_t kWrongJob = tcp_internal::kHelloWrongJob;

std::string ErrnoText(int err) { return std::strerror(err); }

// Socket timeouts bound the blocking handshake I/O by the caller's deadline.
void SetIoTimeout(int fd, absl::Duration timeout) {
  timeval tv = absl::ToTimeval(std::max(timeout, absl::Milliseconds(1)));
  if (timeout == absl::InfiniteDuration()) tv = timeval{0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool WriteAll(int fd, const unsigned char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool ReadAll(int fd, unsigned char* p, size_t n) {
  while (n > 0) {
    const ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// A data socket's peer that vanishes without closing (host down, cable cut, a NAT that forgot the
// flow) leaves a half-open link that Linux's defaults notice only after ~2 h idle (keepalive off
// anyway) or ~15 min of retransmissions (tcp_retries2). These bound it to about 30 s: an idle
// link is probed after 10 s, every 5 s, and data or probes left unacknowledged for 30 s abort the
// connection (TCP_USER_TIMEOUT, which Linux also applies to keepalive failures; KEEPCNT is the
// bound where it does not). 30 s is far beyond any
// retransmission stall on a live link (RTOs start at 200 ms) and a peer that is merely slow to
// read still acknowledges window probes, yet short enough that a collective's deadline or a
// resumable link's resume sees kUnavailable instead of a silent hang.
constexpr int kKeepAliveIdleSeconds = 10;
constexpr int kKeepAliveIntervalSeconds = 5;
constexpr int kKeepAliveProbes = 3;
constexpr unsigned kUserTimeoutMillis = 30'000;

void TuneSocket(int fd, const TcpOptions& options) {
  const int one = 1;
  // Frames are written whole with sendmsg; Nagle would only delay the last segment of each.
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &kKeepAliveIdleSeconds, sizeof(int));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &kKeepAliveIntervalSeconds, sizeof(int));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepAliveProbes, sizeof(int));
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &kUserTimeoutMillis, sizeof(unsigned));
  if (options.socket_buffer_bytes > 0) {
    const int size = options.socket_buffer_bytes;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
}

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrFormat("tcp address \"%s\" is not host:port", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, port);
}

class TcpContext final : public Context {
 public:
  TcpContext(int rank, uint64_t job_id, TcpOptions options, int listen_fd, std::string address)
      : rank_(rank),
        job_id_(job_id),
        options_(std::move(options)),
        listen_fd_(listen_fd),
        address_(std::move(address)) {
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TcpContext() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    accept_thread_.join();
    ::close(listen_fd_);
  }

  std::string address() const override { return address_; }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(int peer_rank,
                                                      const std::string& peer_address,
                                                      absl::Time deadline) override;
  absl::StatusOr<std::pair<int, std::unique_ptr<Connection>>> Accept(absl::Time deadline) override;

 private:
  void AcceptLoop();
  // Connects once; kUnavailable with errno text when the peer does not answer.
  absl::StatusOr<int> ConnectOnce(const addrinfo& ai, absl::Time deadline);

  const int rank_;
  const uint64_t job_id_;
  const TcpOptions options_;
  const int listen_fd_;
  const std::string address_;
  std::thread accept_thread_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<std::pair<int, std::unique_ptr<Connection>>> accepted_ ABSL_GUARDED_BY(mu_);
};

void TcpContext::AcceptLoop() {
  for (;;) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      continue;  // EMFILE and friends: the next accept may succeed once descriptors free up
    }
    char host[NI_MAXHOST] = "?";
    char port[NI_MAXSERV] = "?";
    ::getnameinfo(reinterpret_cast<sockaddr*>(&peer), len, host, sizeof(host), port, sizeof(port),
                  NI_NUMERICHOST | NI_NUMERICSERV);
    TuneSocket(fd, options_);
    SetIoTimeout(fd, options_.handshake_timeout);
    std::array<unsigned char, kHelloBytes> raw;
    std::optional<Hello> hello;
    if (ReadAll(fd, raw.data(), raw.size())) hello = DecodeHello(raw);
    if (!hello.has_value() || hello->verdict != kAccepted) {
      ::close(fd);  // not a Crosslink peer, or a stuck one
      continue;
    }
    const bool same_job = hello->job_id == job_id_;
    const auto reply =
        EncodeHello(Hello{same_job ? kAccepted : kWrongJob, job_id_, static_cast<uint32_t>(rank_)});
    if (!WriteAll(fd, reply.data(), reply.size()) || !same_job) {
      ::close(fd);
      continue;
    }
    SetIoTimeout(fd, absl::InfiniteDuration());
    const int peer_rank = static_cast<int>(hello->rank);
    auto connection = std::make_unique<TcpConnection>(
        fd, rank_, peer_rank, job_id_, absl::StrCat(host, ":", port), options_.receive_piece_bytes);
    absl::MutexLock lock(&mu_);
    accepted_.emplace_back(peer_rank, std::move(connection));
  }
}

absl::StatusOr<std::pair<int, std::unique_ptr<Connection>>> TcpContext::Accept(
    absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto arrived = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !accepted_.empty(); };
  if (!mu_.AwaitWithDeadline(absl::Condition(&arrived), deadline)) {
    return absl::DeadlineExceededError(absl::StrFormat(
        "rank %d (tcp %s): no connection arrived by the deadline", rank_, address_));
  }
  auto next = std::move(accepted_.front());
  accepted_.pop_front();
  return next;
}

absl::StatusOr<int> TcpContext::ConnectOnce(const addrinfo& ai, absl::Time deadline) {
  const int fd = ::socket(ai.ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", ErrnoText(errno)));
  int err = 0;
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) < 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      const int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
      const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
      socklen_t len = sizeof(err);
      if (ready <= 0) {
        err = ETIMEDOUT;
      } else {
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
  }
  if (err != 0) {
    ::close(fd);
    return absl::UnavailableError(ErrnoText(err));
  }
  return fd;
}

absl::StatusOr<std::unique_ptr<Connection>> TcpContext::Connect(int peer_rank,
                                                                const std::string& peer_address,
                                                                absl::Time deadline) {
  auto what = [&] {
    return absl::StrFormat("rank %d -> rank %d (tcp %s)", rank_, peer_rank, peer_address);
  };
  absl::StatusOr<std::pair<std::string, int>> host_port = SplitHostPort(peer_address);
  if (!host_port.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what(), ": ", host_port.status().message()));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* resolved = nullptr;
  const std::string port = absl::StrCat(host_port->second);
  if (const int rc = ::getaddrinfo(host_port->first.c_str(), port.c_str(), &hints, &resolved);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrFormat("%s: cannot resolve host: %s", what(), ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> cleanup(resolved, ::freeaddrinfo);
  // The peer may not listen yet (ranks start in any order): retry with a growing pause, capped
  // so a late peer is found within ~100 ms, until the deadline.
  absl::Duration backoff = absl::Milliseconds(2);
  std::string last_error;
  for (;;) {
    absl::StatusOr<int> fd = ConnectOnce(*resolved, deadline);
    if (fd.ok()) {
      int flags = 0;
      ::ioctl(*fd, FIONBIO, &flags);  // back to blocking: the connection's threads block
      TuneSocket(*fd, options_);
      SetIoTimeout(*fd, deadline - absl::Now());
      const auto hello = EncodeHello(Hello{kAccepted, job_id_, static_cast<uint32_t>(rank_)});
      std::array<unsigned char, kHelloBytes> raw;
      std::optional<Hello> reply;
      if (WriteAll(*fd, hello.data(), hello.size()) && ReadAll(*fd, raw.data(), raw.size())) {
        reply = DecodeHello(raw);
      }
      if (reply.has_value() && reply->verdict == kWrongJob) {
        ::close(*fd);
        return absl::UnauthenticatedError(
            absl::StrFormat("%s: refused, the listener belongs to job %d, this rank to job %d",
                            what(), reply->job_id, job_id_));
      }
      if (reply.has_value() && reply->verdict == kAccepted && reply->job_id == job_id_) {
        SetIoTimeout(*fd, absl::InfiniteDuration());
        return std::unique_ptr<Connection>(std::make_unique<TcpConnection>(
            *fd, rank_, peer_rank, job_id_, peer_address, options_.receive_piece_bytes));
      }
      ::close(*fd);
      last_error = reply.has_value() ? "bad handshake reply" : "no handshake reply";
    } else {
      last_error = std::string(fd.status().message());
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) break;
    absl::SleepFor(std::min(backoff, deadline - now));
    backoff = std::min(backoff * 2, absl::Milliseconds(100));
  }
  return absl::UnavailableError(
      absl::StrFormat("%s: cannot connect by the deadline: %s", what(), last_error));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Context>> MakeTcpContext(int rank, uint64_t job_id,
                                                        const TcpOptions& options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* resolved = nullptr;
  const std::string port = absl::StrCat(options.listen_port);
  const std::string where =
      absl::StrFormat("rank %d: listen on %s:%d", rank, options.listen_host, options.listen_port);
  if (const int rc = ::getaddrinfo(options.listen_host.c_str(), port.c_str(), &hints, &resolved);
      rc != 0) {
    return absl::UnavailableError(absl::StrCat(where, ": ", ::gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> cleanup(resolved, ::freeaddrinfo);
  const int fd = ::socket(resolved->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(where, ": socket: ", ErrnoText(errno)));
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (options.socket_buffer_bytes > 0) {
    // Set before listen so accepted sockets negotiate a matching window scale.
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &options.socket_buffer_bytes, sizeof(int));
  }
  if (::bind(fd, resolved->ai_addr, resolved->ai_addrlen) < 0 || ::listen(fd, 128) < 0) {
    const int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat(where, ": ", ErrnoText(err)));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  ::getnameinfo(reinterpret_cast<sockaddr*>(&bound), len, host, sizeof(host), serv, sizeof(serv),
                NI_NUMERICHOST | NI_NUMERICSERV);
  const std::string address = bound.ss_family == AF_INET6 ? absl::StrCat("[", host, "]:", serv)
                                                          : absl::StrCat(host, ":", serv);
  return std::unique_ptr<Context>(std::make_unique<TcpContext>(rank, job_id, options, fd, address));
}

}  // namespace crosslink::collectives
