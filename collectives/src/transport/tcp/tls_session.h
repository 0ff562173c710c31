// Internal: TLS 1.3 on a TCP data connection (TcpOptions::tls, tcp_transport.h), with OpenSSL's
// libssl. A TlsConfig holds one context's CA, certificate and key; a TlsSession is one
// connection's TLS state over a non-blocking socket. The setup (TLS handshake, then the job
// handshake inside it) runs without blocking, driven by the accept thread's poll loop or by the
// connector's deadline-bounded waits; the data phase then blocks in poll (the sender and receiver
// threads of a TcpConnection), serialising the two threads' libssl calls on one mutex, since an
// SSL object is not safe for a read and a write at once. The socket stays non-blocking throughout,
// so no thread holds the mutex while it waits.
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TLS_SESSION_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TLS_SESSION_H_

#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "crosslink/collectives/transport/tcp_transport.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace crosslink::collectives::tcp_internal {

class TlsSession;

// A context's TLS settings: TLS 1.3 only, a certificate required from the peer and verified
// against the CA, no session tickets or resumption (every connection proves itself afresh).
// Immutable once loaded; safe from any thread.
class TlsConfig {
 public:
  // Reads the files. kNotFound for an unreadable file, kInvalidArgument for one without a usable
  // certificate or key or a key that does not match the certificate; the message names `rank`,
  // the file and OpenSSL's reason.
  static absl::StatusOr<std::unique_ptr<TlsConfig>> Load(int rank, const TcpTlsOptions& options);
  ~TlsConfig();
  TlsConfig(const TlsConfig&) = delete;
  TlsConfig& operator=(const TlsConfig&) = delete;

  // A session over the connected non-blocking socket `fd` (not owned: the caller closes it after
  // the session is gone), as server (`acceptor`) or client. kInternal when libssl cannot.
  absl::StatusOr<std::unique_ptr<TlsSession>> NewSession(int fd, bool acceptor) const;

 private:
  explicit TlsConfig(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* const ctx_;
};

class TlsSession {
 public:
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // --- Setup (one thread at a time; the socket is non-blocking) ---

  // Advances the TLS handshake: true when it is complete, false when it waits for
  // wait_events() on the socket. kUnauthenticated when the peer's certificate does not verify
  // (or the peer refused ours), naming the reason; kUnavailable when the peer closes or does not
  // speak TLS.
  absl::StatusOr<bool> Handshake();
  // Moves up to n bytes; 0 when it would block (wait for wait_events()). kUnavailable when the
  // peer closed or the stream broke; kUnauthenticated when the peer sent an alert that refuses
  // this end's certificate (TLS 1.3 clients learn of it only after their handshake is complete).
  absl::StatusOr<size_t> Read(std::byte* out, size_t n);
  absl::StatusOr<size_t> Write(const std::byte* data, size_t n);
  // POLLIN or POLLOUT: what the last operation that returned false or 0 waits for.
  short wait_events() const { return wait_events_; }
  // 32 bytes of keying material exported from this session (RFC 8446 section 7.5): the same at
  // both ends of this session, unrelated in any other. Valid once Handshake returned true.
  std::array<uint8_t, 32> ChannelBinding() const;

  // --- Data (TcpConnection's threads: one writer and one reader at once) ---

  // Writes every byte of `iov`, blocking until they are sent or the connection fails; small
  // pieces (frame headers) are gathered into one TLS record with the data that follows.
  // kUnavailable naming the reason.
  absl::Status WriteAll(absl::Span<const iovec> iov);
  // Reads exactly n bytes into `out`, blocking; *got counts those that arrived. 0 on success, -1
  // at the end of the stream, otherwise an errno (EPROTO when a record fails to decrypt or verify:
  // last_error() says why).
  int ReadFull(std::byte* out, size_t n, size_t* got);
  // The libssl reason of the last EPROTO, for messages.
  std::string last_error() const;

 private:
  friend class TlsConfig;
  TlsSession(SSL* ssl, int fd) : ssl_(ssl), fd_(fd) {}
  // Interprets `ok` (1 for success), the result of an SSL call on this thread: 1 progress, 0
  // wait for *wait, -1 end of stream, -2 error (error_ and its fields set).
  int Classify(int ok, short* wait) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The setup phase's status for Classify's -1 or -2.
  absl::Status SetupError(int classified) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Blocks (the data phase) until all n bytes are written or the connection fails: 0 or -2.
  int WriteBlocking(const std::byte* data, size_t n);

  SSL* const ssl_;
  const int fd_;
  short wait_events_ = 0;  // setup phase only
  // Serialises every libssl call on ssl_ (one reader and one writer thread in the data phase).
  mutable absl::Mutex mu_;
  std::string error_ ABSL_GUARDED_BY(mu_);           // the last error's reason
  int error_errno_ ABSL_GUARDED_BY(mu_) = 0;         // its errno (EPROTO for a TLS failure)
  bool error_refuses_ ABSL_GUARDED_BY(mu_) = false;  // a certificate refused (either end)
  std::vector<std::byte> staging_;                   // writer thread only: gathered small pieces
};

}  // namespace crosslink::collectives::tcp_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TLS_SESSION_H_
