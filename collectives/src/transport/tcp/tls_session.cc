#include "tls_session.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crosslink::collectives::tcp_internal {
namespace {

// The label both ends export the channel binding under (RFC 8446 section 7.5: "EXPORTER-" and
// the application's name).
constexpr char kBindingLabel[] = "EXPORTER-crosslink-data-handshake";

// A TLS record carries at most 16 KiB of plaintext: frame headers and small payloads are gathered
// up to one record, so a header costs no record (and no syscall) of its own.
constexpr size_t kRecordBytes = 16 * 1024;
// Bytes encrypted per locked SSL_write: the reader thread waits for the mutex at most this long
// (~0.1 ms at AES-GCM speeds), and a larger write gains nothing (the socket buffer fills anyway).
constexpr size_t kLockedWriteBytes = 256 * 1024;
// The session's read buffer with read-ahead: several records per recv.
constexpr size_t kReadBufferBytes = 64 * 1024;

// OpenSSL's reason for the most recent error on this thread, or `fallback`.
std::string OpenSslReason(const char* fallback) {
  const unsigned long code = ::ERR_peek_last_error();
  if (code == 0) return fallback;
  char text[256];
  ::ERR_error_string_n(code, text, sizeof(text));
  // "error:0A000086:SSL routines::certificate verify failed": the part after the last colon is
  // the reason, the rest is noise in a status message.
  const char* reason = ::ERR_reason_error_string(code);
  return reason != nullptr ? std::string(reason) : std::string(text);
}

// Whether the failure refuses a certificate (this end's verification or the peer's alert about
// ours): final, unlike a broken stream.
bool RefusesCertificate(unsigned long code) {
  if (code == 0 || ERR_GET_LIB(code) != ERR_LIB_SSL) return false;
  switch (ERR_GET_REASON(code)) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return true;
    default:
      return false;
  }
}

// libssl's socket BIO writes with write(2), so a write to a peer that has closed raises SIGPIPE,
// which kills the process. Connections use this BIO instead: send(2) with MSG_NOSIGNAL (the
// error comes back as EPIPE, as on a plain connection) and recv(2), non-blocking either way.
int SocketFd(BIO* bio) { return static_cast<int>(reinterpret_cast<intptr_t>(::BIO_get_data(bio))); }

int BioWrite(BIO* bio, const char* data, int n) {
  ::BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t w = ::send(SocketFd(bio), data, static_cast<size_t>(n), MSG_NOSIGNAL);
    if (w >= 0) return static_cast<int>(w);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) ::BIO_set_retry_write(bio);
    return -1;
  }
}

int BioRead(BIO* bio, char* out, int n) {
  ::BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t r = ::recv(SocketFd(bio), out, static_cast<size_t>(n), 0);
    if (r >= 0) return static_cast<int>(r);  // 0: end of stream
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) ::BIO_set_retry_read(bio);
    return -1;
  }
}

long BioCtrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

int BioCreate(BIO* bio) {
  ::BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* NoSignalSocket() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m =
        ::BIO_meth_new(::BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                       "crosslink socket (MSG_NOSIGNAL)");
    if (m != nullptr) {
      ::BIO_meth_set_write(m, BioWrite);
      ::BIO_meth_set_read(m, BioRead);
      ::BIO_meth_set_ctrl(m, BioCtrl);
      ::BIO_meth_set_create(m, BioCreate);
    }
    return m;
  }();
  return method;
}

// Blocks until `events` or an error on fd; false when poll itself fails.
bool PollForever(int fd, short events) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int ready = ::poll(&p, 1, -1);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<TlsConfig>> TlsConfig::Load(int rank, const TcpTlsOptions& options) {
  const std::pair<const std::string*, const char*> files[] = {
      {&options.ca_file, "CA"}, {&options.cert_file, "certificate"}, {&options.key_file, "key"}};
  for (const auto& [file, what] : files) {
    if (file->empty()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("rank %d: data TLS needs a %s file (TcpTlsOptions)", rank, what));
    }
    std::FILE* f = std::fopen(file->c_str(), "rb");
    if (f == nullptr) {
      return absl::NotFoundError(
          absl::StrFormat("rank %d: data TLS: cannot read the %s file '%s': %s", rank, what, *file,
                          std::strerror(errno)));
    }
    std::fclose(f);
  }
  ::ERR_clear_error();
  SSL_CTX* ctx = ::SSL_CTX_new(::TLS_method());
  if (ctx == nullptr) {
    return absl::InternalError(absl::StrFormat("rank %d: data TLS: SSL_CTX_new failed: %s", rank,
                                               OpenSslReason("out of memory")));
  }
  auto bad = [&](const char* what, const std::string& file) {
    const std::string reason = OpenSslReason("unknown error");
    ::SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(absl::StrFormat(
        "rank %d: data TLS: the %s file '%s' is not usable: %s", rank, what, file, reason));
  };
  // TLS 1.3 only: its handshake encrypts the certificates, and every suite it offers is an AEAD.
  ::SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  if (::SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
    return bad("CA", options.ca_file);
  }
  if (::SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return bad("certificate", options.cert_file);
  }
  if (::SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return bad("key", options.key_file);
  }
  if (::SSL_CTX_check_private_key(ctx) != 1) {
    return bad("key (it does not match the certificate)", options.key_file);
  }
  // Mutual: both roles demand and verify the peer's certificate. No host name check: peers are
  // dialled by address and a rank's certificate need not name it; the CA says "a member of this
  // job", the job handshake then says which rank.
  ::SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // No resumption: a session ticket would let a connection skip the certificate check, and the
  // server's tickets would arrive in the middle of the job handshake.
  ::SSL_CTX_set_num_tickets(ctx, 0);
  ::SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  // A peer that closes without close_notify ends the stream like a plain socket does: frames
  // carry their own lengths and CRCs, so a truncation is never taken for data.
  ::SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // Partial writes: a full socket buffer returns what was written, so the writer polls without
  // holding the mutex.
  ::SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // AES-128-GCM first: as strong as the job needs and ~30 % faster than AES-256 with AES-NI,
  // the data path's main cost; ChaCha20 for a peer without AES instructions.
  ::SSL_CTX_set_ciphersuites(
      ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384");
  // Read ahead: one recv takes whatever the socket holds (up to the buffer) instead of a record
  // header and then its body, halving the receiver's system calls. The bytes read ahead stay in
  // the session, which the connection keeps from its handshake to its end.
  ::SSL_CTX_set_read_ahead(ctx, 1);
  ::SSL_CTX_set_default_read_buffer_len(ctx, kReadBufferBytes);
  return std::unique_ptr<TlsConfig>(new TlsConfig(ctx));
}

TlsConfig::~TlsConfig() { ::SSL_CTX_free(ctx_); }

absl::StatusOr<std::unique_ptr<TlsSession>> TlsConfig::NewSession(int fd, bool acceptor) const {
  ::ERR_clear_error();
  SSL* ssl = ::SSL_new(ctx_);
  BIO* bio = NoSignalSocket() != nullptr ? ::BIO_new(NoSignalSocket()) : nullptr;
  if (ssl == nullptr || bio == nullptr) {
    const std::string reason = OpenSslReason("out of memory");
    ::BIO_free(bio);
    ::SSL_free(ssl);
    return absl::InternalError(absl::StrCat("TLS session: ", reason));
  }
  ::BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  ::SSL_set_bio(ssl, bio, bio);  // the session owns the BIO (not the socket)
  if (acceptor) {
    ::SSL_set_accept_state(ssl);
  } else {
    ::SSL_set_connect_state(ssl);
  }
  return std::unique_ptr<TlsSession>(new TlsSession(ssl, fd));
}

TlsSession::~TlsSession() { ::SSL_free(ssl_); }

int TlsSession::Classify(int ok, short* wait) {
  if (ok == 1) return 1;
  const int saved_errno = errno;
  switch (::SSL_get_error(ssl_, ok)) {
    case SSL_ERROR_WANT_READ:
      *wait = POLLIN;
      return 0;
    case SSL_ERROR_WANT_WRITE:
      *wait = POLLOUT;
      return 0;
    case SSL_ERROR_ZERO_RETURN:
      return -1;
    case SSL_ERROR_SYSCALL:
      if (::ERR_peek_error() == 0 && saved_errno == 0) return -1;  // end of stream
      error_errno_ = saved_errno != 0 ? saved_errno : EPROTO;
      error_ = saved_errno != 0 ? std::strerror(saved_errno) : OpenSslReason("TLS failure");
      error_refuses_ = false;
      return -2;
    default: {
      const unsigned long code = ::ERR_peek_last_error();
      const long verify = ::SSL_get_verify_result(ssl_);
      error_errno_ = EPROTO;
      error_refuses_ = RefusesCertificate(code);
      if (verify != X509_V_OK && error_refuses_) {
        error_ = absl::StrCat("the peer's certificate does not verify against this rank's CA: ",
                              ::X509_verify_cert_error_string(verify));
      } else if (error_refuses_) {
        error_ = absl::StrCat("the peer refused this rank's certificate (", OpenSslReason(""), ")");
      } else {
        error_ = absl::StrCat("TLS: ", OpenSslReason("protocol error"));
      }
      return -2;
    }
  }
}

absl::Status TlsSession::SetupError(int classified) const {
  if (classified == -1) {
    return absl::UnavailableError("the peer closed the connection during TLS setup");
  }
  if (error_refuses_) return absl::UnauthenticatedError(error_);
  return absl::UnavailableError(error_);
}

absl::StatusOr<bool> TlsSession::Handshake() {
  absl::MutexLock lock(&mu_);
  ::ERR_clear_error();
  errno = 0;
  const int c = Classify(::SSL_do_handshake(ssl_), &wait_events_);
  if (c == 1) return true;
  if (c == 0) return false;
  return SetupError(c);
}

absl::StatusOr<size_t> TlsSession::Read(std::byte* out, size_t n) {
  absl::MutexLock lock(&mu_);
  ::ERR_clear_error();
  errno = 0;
  size_t got = 0;
  const int c = Classify(::SSL_read_ex(ssl_, out, n, &got), &wait_events_);
  if (c == 1) return got;
  if (c == 0) return 0;
  return SetupError(c);
}

absl::StatusOr<size_t> TlsSession::Write(const std::byte* data, size_t n) {
  absl::MutexLock lock(&mu_);
  ::ERR_clear_error();
  errno = 0;
  size_t sent = 0;
  const int c = Classify(::SSL_write_ex(ssl_, data, n, &sent), &wait_events_);
  if (c == 1) return sent;
  if (c == 0) return 0;
  return SetupError(c);
}

std::array<uint8_t, 32> TlsSession::ChannelBinding() const {
  std::array<uint8_t, 32> out{};
  absl::MutexLock lock(&mu_);
  // Cannot fail once the handshake is complete; zeros would only make the job handshake fail.
  ::SSL_export_keying_material(ssl_, out.data(), out.size(), kBindingLabel,
                               sizeof(kBindingLabel) - 1, nullptr, 0, 0);
  return out;
}

int TlsSession::WriteBlocking(const std::byte* data, size_t n) {
  while (n > 0) {
    const size_t chunk = std::min(n, kLockedWriteBytes);
    short wait = 0;
    int c;
    size_t sent = 0;
    {
      absl::MutexLock lock(&mu_);
      ::ERR_clear_error();
      errno = 0;
      c = Classify(::SSL_write_ex(ssl_, data, chunk, &sent), &wait);
      if (c == -1) {  // a write that meets the end of the stream: the peer is gone
        error_errno_ = EPIPE;
        error_ = std::strerror(EPIPE);
        c = -2;
      }
    }
    if (c == -2) return -2;
    if (c == 0) {
      if (!PollForever(fd_, wait)) {
        const int err = errno;
        absl::MutexLock lock(&mu_);
        error_ = absl::StrCat("poll: ", std::strerror(err));
        return -2;
      }
      continue;  // the same arguments again, as libssl requires after a WANT_*
    }
    data += sent;
    n -= sent;
  }
  return 0;
}

absl::Status TlsSession::WriteAll(absl::Span<const iovec> iov) {
  staging_.reserve(kRecordBytes);
  auto flush = [&] {
    const int rc = staging_.empty() ? 0 : WriteBlocking(staging_.data(), staging_.size());
    staging_.clear();
    return rc;
  };
  bool failed = false;
  for (const iovec& v : iov) {
    const auto* p = static_cast<const std::byte*>(v.iov_base);
    size_t n = v.iov_len;
    if (staging_.size() + n <= kRecordBytes) {
      staging_.insert(staging_.end(), p, p + n);
      continue;
    }
    if (!staging_.empty()) {  // top the record up with the head of this piece
      const size_t take = kRecordBytes - staging_.size();
      staging_.insert(staging_.end(), p, p + take);
      p += take;
      n -= take;
      if (flush() != 0) {
        failed = true;
        break;
      }
    }
    // A large payload goes straight from its buffer.
    if (WriteBlocking(p, n) != 0) {
      failed = true;
      break;
    }
  }
  if (!failed && flush() == 0) return absl::OkStatus();
  staging_.clear();
  absl::MutexLock lock(&mu_);
  return absl::UnavailableError(absl::StrCat("send failed: ", error_));
}

int TlsSession::ReadFull(std::byte* out, size_t n, size_t* got) {
  *got = 0;
  while (*got < n) {
    short wait = 0;
    int c;
    size_t r = 0;
    {
      absl::MutexLock lock(&mu_);
      ::ERR_clear_error();
      errno = 0;
      c = Classify(::SSL_read_ex(ssl_, out + *got, n - *got, &r), &wait);
      if (c == -2) return error_errno_;
    }
    if (c == -1) return -1;
    if (c == 0) {
      if (!PollForever(fd_, wait)) return errno;
      continue;
    }
    *got += r;
  }
  return 0;
}

std::string TlsSession::last_error() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

}  // namespace crosslink::collectives::tcp_internal
