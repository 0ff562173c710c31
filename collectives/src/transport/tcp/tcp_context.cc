// TcpContext: the listener with its accept thread (handshakes without blocking, bounded),
// Connect with retries, and both halves of the authenticated handshake (handshake.h), inside TLS
// when the context runs it (tls_session.h).
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <deque>
#include <thread>
#include <variant>
#include <vector>

#include "../handshake.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "tcp_connection.h"
#include "tls_session.h"

namespace crosslink::collectives {
namespace {

using tcp_internal::TcpConnection;
using tcp_internal::TlsConfig;
using tcp_internal::TlsSession;

std::string ErrnoText(int err) { return std::strerror(err); }

// A data socket's peer that vanishes without closing (host down, cable cut, a NAT that forgot the
// flow) leaves a half-open link that Linux's defaults notice only after ~2 h idle (keepalive off
// anyway) or ~15 min of retransmissions (tcp_retries2). options.dead_link_timeout (T, 30 s by
// default) bounds it: an idle link is probed after T/3, every T/6, and data or probes left
// unacknowledged for T abort the connection (TCP_USER_TIMEOUT, which Linux also applies to
// keepalive failures; KEEPCNT is the bound where it does not). A peer that is merely slow to read
// still acknowledges window probes, so a live link is never cut by it.
constexpr int kKeepAliveProbes = 3;
// Keepalive takes whole seconds; below 2 s the idle and interval times would both round to the
// one-second floor and a 1 s RTO backoff could pass for a dead link.
constexpr int64_t kMinDeadLinkSeconds = 2;

void TuneSocket(int fd, const TcpOptions& options) {
  const int one = 1;
  // Frames are written whole with sendmsg; Nagle would only delay the last segment of each.
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const int64_t dead_s =
      std::max(kMinDeadLinkSeconds, absl::ToInt64Seconds(options.dead_link_timeout));
  const int idle_s = static_cast<int>(std::max<int64_t>(1, dead_s / 3));
  const int interval_s = static_cast<int>(std::max<int64_t>(1, dead_s / 6));
  const unsigned user_timeout_ms = static_cast<unsigned>(dead_s * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof(int));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval_s, sizeof(int));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepAliveProbes, sizeof(int));
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(unsigned));
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

// Non-blocking socket I/O bounded by an absolute deadline (the connector's side of the
// handshake): kUnavailable when the peer closes, errs, or the deadline passes first.
absl::Status WaitFd(int fd, short events, absl::Time deadline) {
  for (;;) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return absl::UnavailableError("handshake timed out");
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return absl::UnavailableError(absl::StrCat("poll: ", ErrnoText(errno)));
    if (ready > 0) return absl::OkStatus();
  }
}

// The connector's side of a connection during its setup: the socket, and the TLS session over
// it when the context runs TLS.
struct SetupStream {
  int fd = -1;
  TlsSession* tls = nullptr;
};

absl::Status WriteAllBy(const SetupStream& s, const std::byte* p, size_t n, absl::Time deadline) {
  while (n > 0) {
    if (s.tls != nullptr) {
      ASSIGN_OR_RETURN(const size_t w, s.tls->Write(p, n));
      if (w == 0) RETURN_IF_ERROR(WaitFd(s.fd, s.tls->wait_events(), deadline));
      p += w;
      n -= w;
      continue;
    }
    const ssize_t w = ::send(s.fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      RETURN_IF_ERROR(WaitFd(s.fd, POLLOUT, deadline));
      continue;
    }
    if (w <= 0) return absl::UnavailableError(absl::StrCat("send: ", ErrnoText(errno)));
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status ReadAllBy(const SetupStream& s, std::byte* p, size_t n, absl::Time deadline) {
  while (n > 0) {
    if (s.tls != nullptr) {
      ASSIGN_OR_RETURN(const size_t r, s.tls->Read(p, n));
      if (r == 0) RETURN_IF_ERROR(WaitFd(s.fd, s.tls->wait_events(), deadline));
      p += r;
      n -= r;
      continue;
    }
    const ssize_t r = ::recv(s.fd, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      RETURN_IF_ERROR(WaitFd(s.fd, POLLIN, deadline));
      continue;
    }
    if (r == 0) return absl::UnavailableError("the listener closed the connection");
    if (r < 0) return absl::UnavailableError(absl::StrCat("recv: ", ErrnoText(errno)));
    p += r;
    n -= static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

// Reads one whole handshake message (prefix first, then the body its kind implies).
absl::StatusOr<handshake::Message> ReadMessageBy(const SetupStream& s, absl::Time deadline) {
  std::array<std::byte, handshake::kMaxMessageBytes> buf;
  RETURN_IF_ERROR(ReadAllBy(s, buf.data(), handshake::kPrefixBytes, deadline));
  absl::StatusOr<handshake::Kind> kind = handshake::DecodePrefix(buf);
  if (!kind.ok()) return absl::UnavailableError(kind.status().message());
  const size_t total = handshake::MessageBytes(*kind);
  RETURN_IF_ERROR(ReadAllBy(s, buf.data() + handshake::kPrefixBytes,
                            total - handshake::kPrefixBytes, deadline));
  absl::StatusOr<handshake::Message> message =
      handshake::DecodeMessage(absl::MakeConstSpan(buf).first(total));
  if (!message.ok()) return absl::UnavailableError(message.status().message());
  return message;
}

// Backoff of the accept loop when accept fails for want of descriptors or memory (EMFILE,
// ENFILE, ENOBUFS, ENOMEM): the pending connection stays in the backlog and makes the listening
// socket readable at once, so retrying without a pause would spin a core. Doubling from 10 ms to
// 1 s retries promptly once descriptors free up while costing nothing meanwhile.
constexpr absl::Duration kFirstAcceptBackoff = absl::Milliseconds(10);
constexpr absl::Duration kMaxAcceptBackoff = absl::Seconds(1);
// Connections accepted per wake-up before the pending handshakes get their turn.
constexpr int kAcceptsPerRound = 64;

// An accepted connection whose handshake is in progress (accept thread only). Owns its socket
// (closed when it is dropped) until it is handed to Accept.
struct PendingHandshake {
  enum class Stage { kTls, kReadHello, kWriteChallenge, kReadProof, kWriteVerdict };
  PendingHandshake() = default;
  PendingHandshake(const PendingHandshake&) = delete;
  PendingHandshake& operator=(const PendingHandshake&) = delete;
  ~PendingHandshake() {
    tls.reset();
    if (fd >= 0) ::close(fd);
  }
  int fd = -1;
  std::unique_ptr<TlsSession> tls;  // with TLS: the session, from the first byte
  JobKey key{};                     // the job key, bound to the TLS session when there is one
  bool tls_started = false;         // the first byte has been seen to be TLS
  bool refuse_for_tls = false;      // a connector without TLS: read its Hello, answer kNeedsTls
  short wait = POLLIN;              // what the socket must become before the next step
  std::string peer;                 // "host:port"
  absl::Time deadline;              // absolute: bytes that trickle in do not extend it
  Stage stage = Stage::kReadHello;
  std::array<std::byte, handshake::kMaxMessageBytes> in{};
  size_t in_have = 0;
  std::array<std::byte, handshake::kMaxMessageBytes> out{};
  size_t out_size = 0;
  size_t out_sent = 0;
  handshake::Transcript transcript;
  bool accept_after_verdict = false;
};

// An authenticated connection waiting for Accept: only its socket, no threads yet.
struct Unclaimed {
  int peer_rank = 0;
  int fd = -1;
  std::string peer;
  handshake::SessionKey session_key{};
  std::unique_ptr<TlsSession> tls;
};

// What the connector's setup yields: the session key, and the TLS session when there is one.
struct Established {
  handshake::SessionKey session_key{};
  std::unique_ptr<TlsSession> tls;
};

class TcpContext final : public Context {
 public:
  TcpContext(int rank, uint64_t job_id, TcpOptions options, std::unique_ptr<TlsConfig> tls,
             int listen_fd, int wake_fd, std::string address)
      : rank_(rank),
        job_id_(job_id),
        key_(options.job_key.value_or(handshake::KeyFromJobIdOnly(job_id))),
        options_(std::move(options)),
        tls_(std::move(tls)),
        listen_fd_(listen_fd),
        wake_fd_(wake_fd),
        address_(std::move(address)) {
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TcpContext() override {
    const uint64_t one = 1;
    while (::write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
    accept_thread_.join();
    ::close(listen_fd_);
    ::close(wake_fd_);
    absl::MutexLock lock(&mu_);
    for (const Unclaimed& u : accepted_) ::close(u.fd);
  }

  std::string address() const override { return address_; }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(int peer_rank,
                                                      const std::string& peer_address,
                                                      absl::Time deadline) override;
  absl::StatusOr<std::pair<int, std::unique_ptr<Connection>>> Accept(absl::Time deadline) override;

 private:
  void AcceptLoop();
  // Accepts what the backlog holds (up to kAcceptsPerRound); on EMFILE and friends sets
  // accept_paused_until_.
  void AcceptNew(std::vector<std::unique_ptr<PendingHandshake>>& pending);
  // Advances one handshake as far as its socket allows; false when it is finished (handed to
  // accepted_ or closed).
  bool Advance(PendingHandshake& p);
  // One non-blocking step of p's input or output (through TLS when on): the bytes moved, 0 when
  // it must wait (p.wait says for what), -1 when the connection is finished (closed, broken).
  static ssize_t PendingRead(PendingHandshake& p, std::byte* out, size_t n);
  static ssize_t PendingWrite(PendingHandshake& p, const std::byte* data, size_t n);
  // Queues `message` as p's next output and moves to `next`.
  void Reply(PendingHandshake& p, const handshake::Message& message, PendingHandshake::Stage next);
  // Connects once; kUnavailable with errno text when the peer does not answer.
  absl::StatusOr<int> ConnectOnce(const addrinfo& ai, absl::Time deadline);
  // The connector's half of the handshake on a connected non-blocking socket. kUnauthenticated
  // and kFailedPrecondition are final; kUnavailable may be retried.
  absl::StatusOr<Established> ConnectorHandshake(int fd, int peer_rank, absl::Time deadline);

  const int rank_;
  const uint64_t job_id_;
  const JobKey key_;
  const TcpOptions options_;
  const std::unique_ptr<TlsConfig> tls_;  // null: plain TCP
  const int listen_fd_;
  const int wake_fd_;  // eventfd: the destructor wakes the accept thread's poll with it
  const std::string address_;
  std::thread accept_thread_;
  // Accept thread only.
  absl::Time accept_paused_until_ = absl::InfinitePast();
  absl::Duration accept_backoff_ = absl::ZeroDuration();

  absl::Mutex mu_;
  std::deque<Unclaimed> accepted_ ABSL_GUARDED_BY(mu_);
};

void TcpContext::AcceptLoop() {
  std::vector<std::unique_ptr<PendingHandshake>> pending;  // in arrival order
  std::vector<pollfd> fds;
  for (;;) {
    absl::Time now = absl::Now();
    const bool accepting = now >= accept_paused_until_;
    fds.clear();
    fds.push_back(pollfd{wake_fd_, POLLIN, 0});
    fds.push_back(pollfd{accepting ? listen_fd_ : -1, POLLIN, 0});
    absl::Time wake = accepting ? absl::InfiniteFuture() : accept_paused_until_;
    for (const auto& p : pending) {
      fds.push_back(pollfd{p->fd, p->wait, 0});
      wake = std::min(wake, p->deadline);
    }
    int timeout_ms = -1;
    if (wake != absl::InfiniteFuture()) {
      timeout_ms = static_cast<int>(std::clamp<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(wake - now, absl::Milliseconds(1))), 0, 1 << 30));
    }
    const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) absl::SleepFor(absl::Milliseconds(10));  // cannot happen
    if (fds[0].revents != 0) break;  // the destructor asks us to stop
    // Handshakes first (their fds are at the same index in `fds` as in `pending` + 2), then
    // expiry, then new connections: a flood of new ones cannot starve the ones in progress.
    std::vector<std::unique_ptr<PendingHandshake>> kept;
    now = absl::Now();
    for (size_t i = 0; i < pending.size(); ++i) {
      PendingHandshake& p = *pending[i];
      bool keep = true;
      if (ready > 0 && fds[i + 2].revents != 0) keep = Advance(p);
      // Stuck, trickling or mute: dropped (closed) at its deadline, whatever it sent.
      if (keep && now >= p.deadline) keep = false;
      if (keep) kept.push_back(std::move(pending[i]));
    }
    pending.swap(kept);
    if (ready > 0 && accepting && (fds[1].revents & POLLIN) != 0) AcceptNew(pending);
  }
}

void TcpContext::AcceptNew(std::vector<std::unique_ptr<PendingHandshake>>& pending) {
  for (int round = 0; round < kAcceptsPerRound; ++round) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                             SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      const int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        accept_backoff_ = std::clamp(accept_backoff_ * 2, kFirstAcceptBackoff, kMaxAcceptBackoff);
        accept_paused_until_ = absl::Now() + accept_backoff_;
      }
      return;  // EAGAIN: the backlog is empty
    }
    accept_backoff_ = absl::ZeroDuration();
    if (static_cast<int>(pending.size()) >= std::max(1, options_.max_pending_handshakes)) {
      // The oldest is the one most likely stuck: a real peer finishes in one round trip.
      pending.erase(pending.begin());
    }
    auto p = std::make_unique<PendingHandshake>();
    p->fd = fd;
    p->deadline = absl::Now() + options_.handshake_timeout;
    char host[NI_MAXHOST] = "?";
    char port[NI_MAXSERV] = "?";
    ::getnameinfo(reinterpret_cast<sockaddr*>(&peer), len, host, sizeof(host), port, sizeof(port),
                  NI_NUMERICHOST | NI_NUMERICSERV);
    p->peer = absl::StrCat(host, ":", port);
    TuneSocket(fd, options_);
    p->key = key_;
    if (tls_ != nullptr) {
      absl::StatusOr<std::unique_ptr<TlsSession>> session = tls_->NewSession(fd, true);
      if (!session.ok()) continue;  // out of memory: this connection is dropped, not the listener
      p->tls = *std::move(session);
      p->stage = PendingHandshake::Stage::kTls;
    }
    pending.push_back(std::move(p));
  }
}

void TcpContext::Reply(PendingHandshake& p, const handshake::Message& message,
                       PendingHandshake::Stage next) {
  p.out_size = handshake::EncodeMessage(message, absl::MakeSpan(p.out));
  p.out_sent = 0;
  p.stage = next;
}

ssize_t TcpContext::PendingRead(PendingHandshake& p, std::byte* out, size_t n) {
  if (p.tls != nullptr) {
    absl::StatusOr<size_t> r = p.tls->Read(out, n);
    if (!r.ok()) return -1;
    if (*r == 0) p.wait = p.tls->wait_events();
    return static_cast<ssize_t>(*r);
  }
  for (;;) {
    const ssize_t r = ::recv(p.fd, out, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      p.wait = POLLIN;
      return 0;
    }
    return r > 0 ? r : -1;
  }
}

ssize_t TcpContext::PendingWrite(PendingHandshake& p, const std::byte* data, size_t n) {
  if (p.tls != nullptr) {
    absl::StatusOr<size_t> w = p.tls->Write(data, n);
    if (!w.ok()) return -1;
    if (*w == 0) p.wait = p.tls->wait_events();
    return static_cast<ssize_t>(*w);
  }
  for (;;) {
    const ssize_t w = ::send(p.fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      p.wait = POLLOUT;
      return 0;
    }
    return w > 0 ? w : -1;
  }
}

// Returning false drops p (its destructor closes the socket) unless it was handed to accepted_.
bool TcpContext::Advance(PendingHandshake& p) {
  using Stage = PendingHandshake::Stage;
  for (;;) {
    if (p.stage == Stage::kTls && !p.tls_started) {
      // The first byte tells a TLS ClientHello (a handshake record, 0x16) from a Hello in clear
      // (the magic's 'X'): the latter is read whole, in clear, and answered "needs TLS".
      std::byte first{};
      const ssize_t r = ::recv(p.fd, &first, 1, MSG_PEEK);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        p.wait = POLLIN;
        return true;
      }
      if (r <= 0) return false;
      p.tls_started = true;
      if (first == std::byte{handshake::kMagic & 0xff}) {
        p.tls.reset();
        p.refuse_for_tls = true;
        p.stage = Stage::kReadHello;
        p.in_have = 0;
        continue;
      }
    }
    if (p.stage == Stage::kTls) {
      // A failed TLS handshake (no certificate, one from another CA, a peer without TLS) ends it
      // like a failed job handshake: libssl has sent its alert, nothing more is said.
      absl::StatusOr<bool> done = p.tls->Handshake();
      if (!done.ok()) return false;
      if (!*done) {
        p.wait = p.tls->wait_events();
        return true;
      }
      p.key = handshake::BindKeyToChannel(key_, p.tls->ChannelBinding());
      p.stage = Stage::kReadHello;
      p.in_have = 0;
      continue;
    }
    if (p.stage == Stage::kWriteChallenge || p.stage == Stage::kWriteVerdict) {
      while (p.out_sent < p.out_size) {
        const ssize_t w = PendingWrite(p, p.out.data() + p.out_sent, p.out_size - p.out_sent);
        if (w == 0) return true;
        if (w < 0) return false;
        p.out_sent += static_cast<size_t>(w);
      }
      if (p.stage == Stage::kWriteChallenge) {
        p.stage = Stage::kReadProof;
        p.in_have = 0;
        continue;
      }
      if (!p.accept_after_verdict) return false;
      Unclaimed u{static_cast<int>(p.transcript.connector_rank), p.fd, p.peer,
                  handshake::DeriveSessionKey(p.key, p.transcript), std::move(p.tls)};
      p.fd = -1;  // owned by accepted_ now
      absl::MutexLock lock(&mu_);
      accepted_.push_back(std::move(u));
      return false;
    }
    // Reading: exactly one message, never a byte beyond it (frames follow the handshake).
    const handshake::Kind kind =
        p.stage == Stage::kReadHello ? handshake::Kind::kHello : handshake::Kind::kProof;
    const size_t need = handshake::MessageBytes(kind);
    while (p.in_have < need) {
      const ssize_t r = PendingRead(p, p.in.data() + p.in_have, need - p.in_have);
      if (r == 0) return true;
      if (r < 0) return false;
      p.in_have += static_cast<size_t>(r);
      // A wrong prefix ends it as soon as its 8 bytes are in (not a Crosslink peer).
      if (p.in_have >= handshake::kPrefixBytes && p.in_have - r < handshake::kPrefixBytes) {
        absl::StatusOr<handshake::Kind> got = handshake::DecodePrefix(absl::MakeConstSpan(p.in));
        if (!got.ok() || *got != kind) return false;
      }
    }
    absl::StatusOr<handshake::Message> message =
        handshake::DecodeMessage(absl::MakeConstSpan(p.in).first(need));
    if (!message.ok()) return false;
    if (p.stage == Stage::kReadHello) {
      const auto& hello = std::get<handshake::Hello>(*message);
      if (p.refuse_for_tls) {
        p.accept_after_verdict = false;
        Reply(p, handshake::Verdict{handshake::VerdictCode::kNeedsTls}, Stage::kWriteVerdict);
        continue;
      }
      if (hello.job_tag != job_id_) {
        // Another job (or a stranger who guessed the format): a bare refusal, nothing named.
        p.accept_after_verdict = false;
        Reply(p, handshake::Verdict{handshake::VerdictCode::kRefused}, Stage::kWriteVerdict);
        continue;
      }
      if (hello.acceptor_rank != static_cast<uint32_t>(rank_)) {
        p.accept_after_verdict = false;
        Reply(p, handshake::Verdict{handshake::VerdictCode::kNotThisRank}, Stage::kWriteVerdict);
        continue;
      }
      absl::StatusOr<handshake::Nonce> nonce = handshake::RandomNonce();
      if (!nonce.ok()) return false;
      p.transcript = handshake::Transcript{hello.job_tag, hello.connector_rank, hello.acceptor_rank,
                                           hello.connector_nonce, *nonce};
      Reply(p,
            handshake::Challenge{
                *nonce, handshake::ComputeMac(p.key, handshake::Role::kAcceptor, p.transcript)},
            Stage::kWriteChallenge);
      continue;
    }
    // The proof: only a holder of the key can compute it for this connection's fresh nonces.
    const auto& proof = std::get<handshake::Proof>(*message);
    handshake::VerdictCode code = handshake::VerdictCode::kRefused;
    if (handshake::VerifyMac(p.key, handshake::Role::kConnector, p.transcript,
                             proof.connector_mac)) {
      absl::MutexLock lock(&mu_);
      code = static_cast<int>(accepted_.size()) < options_.max_unclaimed_connections
                 ? handshake::VerdictCode::kAccepted
                 : handshake::VerdictCode::kBusy;
    }
    p.accept_after_verdict = code == handshake::VerdictCode::kAccepted;
    Reply(p, handshake::Verdict{code}, Stage::kWriteVerdict);
  }
}

absl::StatusOr<std::pair<int, std::unique_ptr<Connection>>> TcpContext::Accept(
    absl::Time deadline) {
  Unclaimed next;
  {
    absl::MutexLock lock(&mu_);
    auto arrived = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !accepted_.empty(); };
    if (!mu_.AwaitWithDeadline(absl::Condition(&arrived), deadline)) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "rank %d (tcp %s): no connection arrived by the deadline", rank_, address_));
    }
    next = std::move(accepted_.front());
    accepted_.pop_front();
  }
  if (next.tls == nullptr) {
    int flags = 0;
    ::ioctl(next.fd, FIONBIO, &flags);  // back to blocking: the connection's threads block
  }
  auto connection = std::make_unique<TcpConnection>(next.fd, rank_, next.peer_rank, job_id_,
                                                    next.peer, options_.receive_piece_bytes,
                                                    next.session_key, std::move(next.tls));
  return std::make_pair(next.peer_rank, std::unique_ptr<Connection>(std::move(connection)));
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

absl::StatusOr<Established> TcpContext::ConnectorHandshake(int fd, int peer_rank,
                                                           absl::Time deadline) {
  Established established;
  JobKey key = key_;
  if (tls_ != nullptr) {
    ASSIGN_OR_RETURN(established.tls, tls_->NewSession(fd, false));
    for (;;) {
      absl::StatusOr<bool> done = established.tls->Handshake();
      if (!done.ok()) {
        return absl::Status(done.status().code(),
                            absl::StrCat("TLS handshake: ", done.status().message(),
                                         done.status().code() == absl::StatusCode::kUnavailable
                                             ? " (a listener without TLS closes at once)"
                                             : ""));
      }
      if (*done) break;
      RETURN_IF_ERROR(WaitFd(fd, established.tls->wait_events(), deadline));
    }
    key = handshake::BindKeyToChannel(key_, established.tls->ChannelBinding());
  }
  const SetupStream stream{fd, established.tls.get()};
  ASSIGN_OR_RETURN(const handshake::Nonce nonce, handshake::RandomNonce());
  std::array<std::byte, handshake::kMaxMessageBytes> buf;
  const size_t n =
      handshake::EncodeMessage(handshake::Hello{job_id_, static_cast<uint32_t>(rank_),
                                                static_cast<uint32_t>(peer_rank), nonce},
                               absl::MakeSpan(buf));
  RETURN_IF_ERROR(WriteAllBy(stream, buf.data(), n, deadline));
  auto verdict_error = [](handshake::VerdictCode code) {
    switch (code) {
      case handshake::VerdictCode::kRefused:
        return absl::UnauthenticatedError(
            "refused: the listener does not accept this job's credentials");
      case handshake::VerdictCode::kBusy:
        return absl::UnavailableError("the listener is busy (too many unclaimed connections)");
      case handshake::VerdictCode::kNotThisRank:
        return absl::FailedPreconditionError("the listener there is another rank of this job");
      case handshake::VerdictCode::kNeedsTls:
        return absl::FailedPreconditionError(
            "the listener runs TLS on data connections and this rank does not (every rank of a "
            "job must agree on data TLS)");
      case handshake::VerdictCode::kAccepted:
        break;
    }
    return absl::UnavailableError("the listener answered out of turn");
  };
  ASSIGN_OR_RETURN(handshake::Message reply, ReadMessageBy(stream, deadline));
  if (const auto* verdict = std::get_if<handshake::Verdict>(&reply)) {
    return verdict_error(verdict->code);
  }
  const auto* challenge = std::get_if<handshake::Challenge>(&reply);
  if (challenge == nullptr) return absl::UnavailableError("the listener answered out of turn");
  const handshake::Transcript transcript{job_id_, static_cast<uint32_t>(rank_),
                                         static_cast<uint32_t>(peer_rank), nonce,
                                         challenge->acceptor_nonce};
  if (!handshake::VerifyMac(key, handshake::Role::kAcceptor, transcript, challenge->acceptor_mac)) {
    return absl::UnauthenticatedError(
        "the listener cannot prove it holds this job's key (another job, or an impostor)");
  }
  const size_t m = handshake::EncodeMessage(
      handshake::Proof{handshake::ComputeMac(key, handshake::Role::kConnector, transcript)},
      absl::MakeSpan(buf));
  RETURN_IF_ERROR(WriteAllBy(stream, buf.data(), m, deadline));
  ASSIGN_OR_RETURN(reply, ReadMessageBy(stream, deadline));
  const auto* verdict = std::get_if<handshake::Verdict>(&reply);
  if (verdict == nullptr) return absl::UnavailableError("the listener answered out of turn");
  if (verdict->code != handshake::VerdictCode::kAccepted) return verdict_error(verdict->code);
  established.session_key = handshake::DeriveSessionKey(key, transcript);
  return established;
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
      TuneSocket(*fd, options_);
      absl::StatusOr<Established> session = ConnectorHandshake(*fd, peer_rank, deadline);
      if (session.ok()) {
        if (session->tls == nullptr) {
          int flags = 0;
          ::ioctl(*fd, FIONBIO, &flags);  // back to blocking: the connection's threads block
        }
        return std::unique_ptr<Connection>(std::make_unique<TcpConnection>(
            *fd, rank_, peer_rank, job_id_, peer_address, options_.receive_piece_bytes,
            session->session_key, std::move(session->tls)));
      }
      ::close(*fd);
      if (session.status().code() != absl::StatusCode::kUnavailable) {
        return absl::Status(session.status().code(),
                            absl::StrCat(what(), ": ", session.status().message()));
      }
      // An attempt cut short by the deadline says less than the one before it (e.g. "busy").
      if (absl::Now() < deadline || last_error.empty()) {
        last_error = std::string(session.status().message());
      }
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
  // Non-blocking: the accept thread polls it together with the handshakes in progress.
  const int flags = 1;
  ::ioctl(fd, FIONBIO, &flags);
  std::unique_ptr<TlsConfig> tls;
  if (options.tls.has_value()) {
    absl::StatusOr<std::unique_ptr<TlsConfig>> loaded = TlsConfig::Load(rank, *options.tls);
    if (!loaded.ok()) {
      ::close(fd);
      return loaded.status();
    }
    tls = *std::move(loaded);
  }
  const int wake_fd = ::eventfd(0, EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int err = errno;
    ::close(fd);
    return absl::UnavailableError(absl::StrCat(where, ": eventfd: ", ErrnoText(err)));
  }
  return std::unique_ptr<Context>(
      std::make_unique<TcpContext>(rank, job_id, options, std::move(tls), fd, wake_fd, address));
}

}  // namespace crosslink::collectives
