// TCP transport: one socket per connection between two ranks, on loopback or a real network.
//
// Wire: an authenticated handshake, then frames (frame.h) in both directions. The handshake
// (src/transport/handshake.h) is a challenge-response over fresh nonces from both ends, keyed by
// the job key (TcpOptions::job_key): each end proves it holds the key without sending it, both
// ranks are bound into the proofs, and a recording of another connection or job proves nothing.
// The job id is a routing tag only (a listener refuses another job's tag at once); a refusal
// names nothing. The listener runs handshakes without blocking: at most max_pending_handshakes
// at a time, each dropped at its absolute deadline (handshake_timeout after accept), the oldest
// dropped when a new one arrives beyond the bound; at most max_unclaimed_connections
// authenticated connections wait for Accept (a connector beyond it hears "busy" and retries);
// accept failing for lack of descriptors (EMFILE, ENFILE) backs off rather than spinning. Each
// connection runs a sender thread (header and payload leave in one sendmsg, no copy of the payload)
// and a receiver thread that reads a payload straight into the posted receive buffer when one is
// waiting (zero copy). When none is, it first waits a short while (50 ms) for one, leaving the
// payload in the socket so that TCP's flow control holds back a sender that runs ahead, and only
// then reads it into a queue of unexpected messages (a bounded wait, so no plan can deadlock on
// it; none for header-only frames such as aborts, nor while unclaimed messages are queued). CRC32C
// is computed by the sender thread (or given by SendWithCrc) and checked piece by piece as the
// payload arrives, while it is still in cache.
//
// TLS (TcpOptions::tls): every connection first runs TLS 1.3 with mutual certificate
// verification (each end presents a certificate that the other verifies against the job's CA;
// no host name check: the CA vouches for membership of the job, the handshake above for the
// rank), then the handshake above inside it, its key bound to the TLS session (RFC 8446
// exporter), so that a relay between two TLS sessions proves nothing. Frames then travel as TLS
// records (AES-GCM or ChaCha20-Poly1305); the CRC32C stays (it also covers the copies around
// TLS). The TLS handshake runs without blocking under the same per-connection deadline and
// bounds as the rest. A listener with TLS refuses a connector without it (and the other way
// round); a certificate from another CA is refused (Connect: kUnauthenticated, not retried).
//
// Thread-safety: contexts and connections are safe from any thread. A context runs one accept
// thread, so that Connect on one rank never waits for the peer to call Accept (a full mesh can
// be built by every rank connecting first and accepting afterwards).
#ifndef CROSSLINK_COLLECTIVES_TRANSPORT_TCP_TRANSPORT_H_
#define CROSSLINK_COLLECTIVES_TRANSPORT_TCP_TRANSPORT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

// The secret that authenticates a job's data connections: every rank of the job derives the same
// one from the job token (DeriveJobKey); it never travels.
using JobKey = std::array<uint8_t, 32>;

// HMAC-SHA256(token, "crosslink data-plane key v1"): the job key of the job with this token.
JobKey DeriveJobKey(std::string_view job_token);
// The job id the transport puts in handshakes and frame headers for the job with this token: the
// first 8 bytes of HMAC-SHA256(token, "crosslink transport job id v1"). Not secret (it travels in
// clear) and reveals nothing of the token or the key.
uint64_t DeriveJobTag(std::string_view job_token);

// TLS for data connections: PEM files, read when the context is made.
struct TcpTlsOptions {
  // The CA certificate(s) a peer's certificate must chain to.
  std::string ca_file;
  // This end's certificate (chain, leaf first) and its private key; the certificate must allow
  // both TLS roles (no extendedKeyUsage, or both serverAuth and clientAuth): a rank connects to
  // some peers and accepts others.
  std::string cert_file;
  std::string key_file;
};

struct TcpOptions {
  // The job key. Without one the key is derived from the job id alone, which every frame header
  // carries in clear: that authenticates nothing beyond the job id, and is meant for tests and
  // single-user tools; a job with a token sets DeriveJobKey(token) (the runtime does).
  std::optional<JobKey> job_key;
  // Address to listen on; port 0 picks an ephemeral port (address() reports it).
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;
  // Kernel socket buffers. 0 keeps Linux's autotuning, which on loopback reaches its window
  // faster than a fixed size; a size > 0 pins SO_SNDBUF / SO_RCVBUF (capped by net.core.*mem_max).
  int socket_buffer_bytes = 0;
  // A handshake that has not completed within this time is dropped (a stuck or foreign peer
  // must not block the accept thread for long).
  // The deadline is absolute: a peer trickling one byte at a time cannot extend it.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Handshakes in progress at once; beyond it the oldest is dropped. A real handshake takes one
  // round trip (microseconds on a LAN), so 64 is far above what a job of thousands of ranks
  // connecting at once keeps in flight per listener, and small enough that a flood of idle
  // connections costs 64 descriptors, not all of them.
  int max_pending_handshakes = 64;
  // Authenticated connections waiting for Accept. A rank accepts at most one per peer (plus
  // reconnects of resumed links), so 4096 covers any job this runtime runs; beyond it the
  // listener answers "busy" (the connector retries until its deadline). Unclaimed connections
  // hold only their socket (no threads) until Accept takes them.
  int max_unclaimed_connections = 4096;
  // Payloads are received and checksummed in pieces of this size, so the CRC reads bytes the
  // kernel has just written into cache.
  size_t receive_piece_bytes = 256 * 1024;
  // A data socket whose peer stops acknowledging (a cut cable, a link set down, a route gone)
  // fails with kUnavailable after about this long instead of Linux's ~15 min of retransmissions:
  // TCP_USER_TIMEOUT for unacknowledged data, and keepalive probes (idle a third of it, every
  // sixth, three of them) for an end that only receives. Whole seconds, at least 2. 30 s is far
  // beyond any retransmission stall on a live link yet short enough that a collective's deadline
  // or a resumable link's resume sees the failure; over kernel links that a driver cuts
  // (`crosslink-run --netns`) a few seconds let the resumable layer redial as soon as the link
  // is back, rather than wait out TCP's backed-off retransmission timer.
  absl::Duration dead_link_timeout = absl::Seconds(30);
  // TLS on every connection of this context (see above); unset: plain TCP. Every rank of a job
  // must agree.
  std::optional<TcpTlsOptions> tls;
};

// Listens for `rank` of job `job_id` (the routing tag; options.job_key authenticates).
// kUnavailable naming the address when it cannot bind; with options.tls, kNotFound for an
// unreadable file and kInvalidArgument for one that holds no usable certificate or key (or a key
// that does not match the certificate), naming the file. Connect: kUnauthenticated when the
// listener refuses this job's credentials or cannot prove it holds the key (not retried),
// kUnavailable when nobody answers by the deadline; with TLS also kUnauthenticated when either
// end's certificate does not verify, and kFailedPrecondition when a listener answers in TLS to a
// connector without it.
absl::StatusOr<std::unique_ptr<Context>> MakeTcpContext(int rank, uint64_t job_id,
                                                        const TcpOptions& options = {});

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_TRANSPORT_TCP_TRANSPORT_H_
