// Internal: the shared-memory segment of one connection and its two byte rings
// (see shm_transport.h).
//
// Layout (all offsets in bytes; the segment is zero-filled by ftruncate):
//        0  SegmentHeader (magic, tag, both ranks, ring size, each side's closed flag)
//      256  RingControl of ring 0 (connector -> acceptor), 192 bytes
//      448  RingControl of ring 1 (acceptor -> connector), 192 bytes
//     4096  ring 0 data, then ring 1 data (ring_bytes each)
// A ring's head (bytes produced) and tail (bytes consumed) only grow; each sits on its own cache
// line so that producer and consumer do not bounce one line between cores. Waiting uses a futex
// word per condition (data_seq: head moved; space_seq: tail moved), bumped after every publish;
// the waker makes the syscall only when a waiter registered (Dekker-style, all seq_cst).
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_SHM_SHM_RING_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_SHM_SHM_RING_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "../handshake.h"
#include "absl/status/statusor.h"

namespace crosslink::collectives::shm_internal {

inline constexpr uint64_t kSegmentMagic = 0x314D48534B4E4C58ull;  // "XLNKSHM1"

struct SegmentHeader {
  uint64_t magic;
  // HMAC-SHA256(session key of the connection's TCP handshake, name || ranks || ring_bytes): only
  // the authenticated connector can have made it, for this connection and no other, so a segment
  // planted under a guessed name (same user, same /dev/shm) is refused.
  uint8_t tag[32];
  uint32_t connector_rank;
  uint32_t acceptor_rank;
  uint64_t ring_bytes;
  uint32_t closed[2];  // closed[side]: that side closed the connection (side 0: connector)
  // Cross-memory attach (process_vm_readv): each side's pid and the address of a word holding
  // kSegmentMagic in its memory, and whether that side could read the other's (it probed).
  uint64_t pid[2];
  uint64_t probe_address[2];
  uint32_t can_read_peer[2];
};

struct RingControl {
  alignas(64) uint64_t head;
  uint32_t data_seq;
  uint32_t data_waiters;
  alignas(64) uint64_t tail;
  uint32_t space_seq;
  uint32_t space_waiters;
  // Payloads the consumer pulled straight from the producer's memory (descriptor records).
  alignas(64) uint32_t pulled_seq;
  uint32_t pulled_waiters;
};
static_assert(sizeof(RingControl) == 192);

// One direction: a view into the segment. Producer calls (Writable, Write) come from one thread
// of one process, consumer calls (Readable, Read) from one thread of the other.
class Ring {
 public:
  Ring(RingControl* control, std::byte* data, uint64_t capacity)
      : control_(control), data_(data), capacity_(capacity) {}

  uint64_t capacity() const { return capacity_; }
  // Producer: free bytes; Write copies n <= Writable() bytes in and publishes them.
  uint64_t Writable() const;
  void Write(const std::byte* src, size_t n);
  // Consumer: bytes waiting; Read copies n <= Readable() bytes out and frees their space.
  uint64_t Readable() const;
  void Read(std::byte* dst, size_t n);

  // Block until at least `n` bytes are readable (resp. writable) or `stop` returns true (checked
  // after every wake-up and at least every 100 ms). Returns false when stopped first.
  bool WaitReadable(uint64_t n, const std::function<bool()>& stop) const;
  bool WaitWritable(uint64_t n, const std::function<bool()>& stop) const;

  // Wakes every waiter of this ring (both conditions), e.g. after a close flag was set.
  void WakeAll() const;

  // Descriptor records: the consumer counts each payload it pulled, the producer waits for the
  // count to reach `target` (false when `stop` first).
  void SignalPulled();
  uint32_t pulled() const;
  bool WaitPulled(uint32_t target, const std::function<bool()>& stop) const;

 private:
  RingControl* const control_;
  std::byte* const data_;
  const uint64_t capacity_;
};

// Names of segments: "/crosslink-<creator pid>-<128 random bits in hex>". Nothing of the job
// (no id, no key) is in them; the pid lets a later context remove what a killed creator left.
std::string SegmentName(uint64_t random_hi, uint64_t random_lo);
// Whether `name` has that form (an offer naming anything else is not opened nor unlinked).
bool IsSegmentName(const std::string& name);
// Unlinks the segments in /dev/shm whose creator process no longer exists (a connector killed
// between creating its segment and the acceptor mapping it); returns how many.
int RemoveSegmentsOfDeadProcesses();

// A mapped segment. Create makes and maps a new one (O_EXCL); Open maps an existing one and checks
// its header (ranks, size, and the tag under `session_key`). Neither unlinks the name: Unlink
// does (idempotent, ENOENT ignored). Header fields the peer could rewrite later (ring size) are
// read once, checked, and kept in this process.
class Segment {
 public:
  static absl::StatusOr<std::unique_ptr<Segment>> Create(const std::string& name,
                                                         const handshake::SessionKey& session_key,
                                                         int connector_rank, int acceptor_rank,
                                                         uint64_t ring_bytes);
  static absl::StatusOr<std::unique_ptr<Segment>> Open(const std::string& name,
                                                       const handshake::SessionKey& session_key,
                                                       int connector_rank, int acceptor_rank);
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  void Unlink();
  const std::string& name() const { return name_; }
  // Ring 0 carries connector -> acceptor, ring 1 acceptor -> connector.
  Ring& ring(int index) { return *rings_[index]; }
  // The closed flag of `side` (0 connector, 1 acceptor): set by that side, read by the other.
  void SetClosed(int side);
  bool IsClosed(int side) const;
  // Publishes this process as `side` (pid, probe word) for cross-memory reads by the peer.
  void PublishProcess(int side);
  // Probes whether `side` can read the memory of the process `peer_pid` (the value peer_pid()
  // returned once) and records the answer; returns it.
  bool ProbePeerMemory(int side, pid_t peer_pid);
  bool PeerCanRead(int side) const;  // whether the peer of `side` can read side's memory
  // The pid the peer of `side` published. Read it once (after the handshake, when both sides
  // have published) and keep it: the segment is writable by the peer.
  pid_t peer_pid(int side) const;

  // The MAC a segment's header must carry (see SegmentHeader::tag).
  static handshake::Mac Tag(const handshake::SessionKey& session_key, const std::string& name,
                            int connector_rank, int acceptor_rank, uint64_t ring_bytes);

 private:
  Segment(std::string name, void* base, size_t bytes, uint64_t ring_bytes);

  const std::string name_;
  void* const base_;
  const size_t bytes_;
  bool unlinked_ = false;
  std::unique_ptr<Ring> rings_[2];
};

}  // namespace crosslink::collectives::shm_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_SHM_SHM_RING_H_
