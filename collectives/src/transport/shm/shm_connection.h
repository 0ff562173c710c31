// Internal: one shared-memory connection with its sender, receiver and liveness threads
// (see shm_transport.h). The Connection methods, the matching of frames to receives, the send
// queue and the sticky status live in FramedConnection (../framed_connection.h), shared with the
// TCP backend; this class moves the bytes through the rings. Thread-safe as FrameMatcher is.
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_SHM_SHM_CONNECTION_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_SHM_SHM_CONNECTION_H_

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../framed_connection.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "crosslink/collectives/transport/transport.h"
#include "shm_ring.h"

namespace crosslink::collectives::shm_internal {

class ShmConnection final : public transport_internal::FramedConnection {
 public:
  // `side` 0 is the connector (it writes ring 0), 1 the acceptor. `liveness` is the TCP connection
  // the handshake went over; nothing more travels on it, its end of stream means the peer is gone.
  // The connection's first failure raises this end's closed flag (a live peer sees it at once,
  // and it wakes every waiter of both rings) and closes the liveness socket (which tells the peer
  // too, and ends our liveness thread).
  ShmConnection(std::unique_ptr<Connection> liveness, std::unique_ptr<Segment> segment, int side,
                int peer_rank, uint64_t job_id, std::string describe, size_t piece_bytes,
                size_t pull_min_bytes);
  ~ShmConnection() override;

 private:
  void SenderLoop();
  void ReceiverLoop();
  void LivenessLoop();
  // Copies `n` bytes into the outgoing ring, waiting for space; false (the connection failed)
  // when it stopped first.
  bool WriteRing(const std::byte* src, size_t n);
  // Copies `n` bytes out of the incoming ring, checksumming each piece when `crc` is non-null;
  // false when the connection failed or the peer left with fewer bytes in the ring.
  bool ReadRing(std::byte* dst, size_t n, uint32_t* crc, bool corrupt_first);
  // Copies `n` bytes from the peer's memory at `address` (a descriptor record), checksumming each
  // piece; kUnavailable naming the errno when the peer's memory cannot be read.
  absl::Status Pull(std::byte* dst, size_t n, uint64_t address, uint32_t* crc, bool corrupt_first);
  // A piece receive's payload (record `kind`, pulled from `address` or read from the ring): each
  // piece of up to piece_bytes into the connection's scratch, checksummed into *crc and handed to
  // `sink` while in cache, so the bytes are touched once on their way into the reduction. False
  // after failing the connection (the caller drops the arrival).
  bool ReceiveIntoSink(const FrameHeader& header, uint64_t kind, uint64_t address, bool corrupt,
                       PieceSink* sink, uint32_t* crc);
  // Receiver: fails the connection after the peer left (ring drained), naming what was cut.
  void FailPeerGone(const std::string& where);
  bool PeerGone() const;

  const std::unique_ptr<Connection> liveness_;
  const std::unique_ptr<Segment> segment_;
  const int side_;
  const int peer_rank_;
  const uint64_t job_id_;
  // The peer's pid, read from the segment once at construction (both sides have published by
  // then): the peer could rewrite the segment's copy later and aim our reads at another process.
  const pid_t peer_pid_;
  const size_t piece_bytes_;
  // Payloads of at least this many bytes are pulled by the receiver from this process's memory
  // (process_vm_readv: one copy instead of two) when the probe allowed it; 0: never.
  const size_t pull_min_bytes_;
  uint32_t pulls_sent_ = 0;  // sender thread only
  Ring& out_;
  Ring& in_;

  // Set by the liveness thread (peer's socket ended); ring waits check it, with
  // matcher().failed() (this end failed).
  std::atomic<bool> liveness_lost_{false};
  mutable absl::Mutex liveness_mu_;
  absl::Status liveness_status_ ABSL_GUARDED_BY(liveness_mu_);

  std::thread sender_;
  std::thread receiver_;
  std::thread liveness_thread_;
};

}  // namespace crosslink::collectives::shm_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_SHM_SHM_CONNECTION_H_
