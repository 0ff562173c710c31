// TCP transport: one socket per connection between two ranks, on loopback or a real network.
//
// Wire: a handshake (magic, version, job id, rank; the acceptor answers with its own or refuses a
// connection of another job), then frames (frame.h) in both directions. Each connection runs a
// sender thread (header and payload leave in one sendmsg, no copy of the payload) and a
// receiver thread that reads a payload straight into the posted receive buffer when one is
// waiting (zero copy). When none is, it first waits a short while (50 ms) for one, leaving the
// payload in the socket so that TCP's flow control holds back a sender that runs ahead, and only
// then reads it into a queue of unexpected messages (a bounded wait, so no plan can deadlock on
// it; none for header-only frames such as aborts, nor while unclaimed messages are queued). CRC32C
// is computed by the sender thread (or given by SendWithCrc) and checked piece by piece as the
// payload arrives, while it is still in cache.
//
// Thread-safety: contexts and connections are safe from any thread. A context runs one accept
// thread, so that Connect on one rank never waits for the peer to call Accept (a full mesh can
// be built by every rank connecting first and accepting afterwards).
#ifndef CROSSLINK_COLLECTIVES_TRANSPORT_TCP_TRANSPORT_H_
#define CROSSLINK_COLLECTIVES_TRANSPORT_TCP_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

struct TcpOptions {
  // Address to listen on; port 0 picks an ephemeral port (address() reports it).
  std::string listen_host = "127.0.0.1";
  int listen_port = 0;
  // Kernel socket buffers. 0 keeps Linux's autotuning, which on loopback reaches its window
  // faster than a fixed size; a size > 0 pins SO_SNDBUF / SO_RCVBUF (capped by net.core.*mem_max).
  int socket_buffer_bytes = 0;
  // A handshake that has not completed within this time is dropped (a stuck or foreign peer
  // must not block the accept thread for long).
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Payloads are received and checksummed in pieces of this size, so the CRC reads bytes the
  // kernel has just written into cache.
  size_t receive_piece_bytes = 256 * 1024;
};

// Listens for `rank` of job `job_id`. kUnavailable naming the address when it cannot bind.
absl::StatusOr<std::unique_ptr<Context>> MakeTcpContext(int rank, uint64_t job_id,
                                                        const TcpOptions& options = {});

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_TRANSPORT_TCP_TRANSPORT_H_
