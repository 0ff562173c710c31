// Shared-memory transport: ranks on one host (several GPUs of one satellite node) exchange frames
// through rings in a POSIX shared-memory segment instead of loopback TCP, whose two kernel copies
// and per-segment processing make it the floor of a local allreduce (NCCL's SHM transport plays
// the same role). Ranks on other hosts still talk TCP: the context is a TCP context that offers
// an upgrade on every connection it opens.
//
// Handshake: Connect opens a TCP connection (tcp_transport.h: both ends authenticated with the
// job key, a session key derived), creates a segment under a random name (the creator's pid and
// 128 random bits: nothing of the job or its key), tags its header with an HMAC under the
// session key (so only this connection's authenticated peer can have made it) and sends its name
// in one frame. The acceptor maps it (only possible on the same host, with the same /dev/shm),
// checks its header and tag, reading the ring size once, and unlinks the name at once, whether
// it takes the segment or not (a connector that dies later leaks nothing); a context also removes
// segments whose creator process is gone when it starts. When the acceptor cannot, or does not
// want to, it declines and both ends keep the TCP connection. An upgraded connection keeps its
// TCP socket open, idle, as the liveness channel: a peer process that exits
// closes it, which fails this end with kUnavailable, and Close shuts it to tell the peer.
//
// Data: per direction one single-producer/single-consumer byte ring. The sender thread copies the
// 48-byte frame header (frame.h) and the payload into the ring, the receiver thread copies it out
// straight into the posted receive buffer (one copy in, one copy out) and checks the CRC32C piece
// by piece while the bytes are in cache; as over TCP, a payload whose receive is not posted stays
// in the ring for a short while (flow control) before it goes to a queue of unexpected messages.
// Large payloads (ShmOptions::pull_min_bytes) skip the ring where the receiver may read the
// sender's memory (Linux cross-memory attach, probed at connect time): only the header and the
// payload's address go through the ring, the receiver copies the payload with process_vm_readv
// straight from the sender's buffer into the posted one (a single copy) and acknowledges it, and
// the send completes then. The CRC32C is checked on the copy in both cases.
// Threads that wait for data or space spin briefly, then sleep on a futex in the segment (no busy
// waiting: the ranks of a host share its cores).
//
// Thread-safety: contexts and connections are safe from any thread. Blocking calls take deadlines.
// Status codes are those of transport.h and tcp_transport.h.
#ifndef CROSSLINK_COLLECTIVES_TRANSPORT_SHM_TRANSPORT_H_
#define CROSSLINK_COLLECTIVES_TRANSPORT_SHM_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

struct ShmOptions {
  // The TCP context that listens, carries the handshake, and serves peers on other hosts.
  TcpOptions tcp;
  // Connect offers shared memory (set_offer_shared_memory changes it later).
  bool offer = true;
  // Accept takes offered shared memory; false keeps every accepted connection on TCP.
  bool accept = true;
  // Bytes of each direction's ring. 4 MiB holds a few pipeline pieces of a large message, so a
  // sender rarely waits for the receiver, and stays small next to the 2 x ring per connection
  // that a full mesh of n ranks keeps in /dev/shm (n(n-1) rings per host).
  size_t ring_bytes = 4 << 20;
  // Largest piece copied into or out of a ring before it is published (and, on receive,
  // checksummed while in cache); the peer works on the previous piece meanwhile.
  size_t piece_bytes = 256 << 10;
  // Payloads of at least this many bytes skip the ring: the receiver copies them straight from
  // the sender's memory (process_vm_readv, Linux cross-memory attach), one copy instead of two,
  // and the send completes once it has. Used only where a probe at connect time showed that the
  // receiver may read the sender (ptrace rules allow it); 0 turns it off. Below 64 KiB the extra
  // round trip (the receiver's acknowledgement) costs more than the copy it saves.
  size_t pull_min_bytes = 64 << 10;
  // How long the upgrade handshake may take on top of the TCP connect.
  absl::Duration handshake_timeout = absl::Seconds(10);
};

// A TCP context that upgrades connections between ranks of one host to shared memory.
class ShmContext : public Context {
 public:
  // Whether later Connect calls offer shared memory. The communicator learns only after its
  // address is registered whether the job is emulated (a LinkEmulator then wraps connections and
  // the links' emulated rates, not copies, set the pace), so it decides here, before connecting.
  virtual void set_offer_shared_memory(bool offer) = 0;
};

// Listens (TCP, as MakeTcpContext) for `rank` of job `job_id`. kUnavailable when it cannot bind.
absl::StatusOr<std::unique_ptr<ShmContext>> MakeShmContext(int rank, uint64_t job_id,
                                                           const ShmOptions& options = {});

// True when `connection` is a shared-memory connection (the others a ShmContext makes are TCP).
bool IsSharedMemoryConnection(const Connection& connection);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_TRANSPORT_SHM_TRANSPORT_H_
