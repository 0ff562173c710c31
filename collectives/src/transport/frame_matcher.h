// Internal: the message matching that the byte-stream backends (TCP, shared memory) share. A
// FrameMatcher owns a connection's queued sends, its posted receives and the messages that
// arrived before their receive was posted, together with the connection's sticky status; the
// backend owns the bytes (socket, ring) and its sender and receiver threads, which drive the
// matcher:
//   - Send / SendWithCrc / Recv / RecvAllocated / RecvPieces serve the Connection methods of the
//     same name.
//   - The sender thread takes queued sends with TakeSends and completes them itself.
//   - The receiver thread, for each frame header it decodes, Claims the buffer the payload goes
//     into (the oldest posted receive, else a fresh allocation), reads the payload there, then
//     Delivers it (or fails it). Messages are matched to receives in arrival order: one peer
//     sends in order over one stream, so the oldest receive takes the oldest message.
//   - Fail makes the first error sticky, completes every queued send and posted receive with it,
//     and runs the backend's `on_fail` so that the backend's threads and the peer notice.
//
// Thread-safe: every method may be called from any thread; Claim, Deliver, FailArrival and
// DropArrival are meant for the one receiver thread (arrivals must be claimed and delivered in
// stream order). Only TakeSends and Claim block (see each). Completions are never run under the
// matcher's mutex, so a waiter woken by one may call back into the connection at once.
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_FRAME_MATCHER_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_FRAME_MATCHER_H_

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crosslink/collectives/transport/completion.h"
#include "crosslink/collectives/transport/transport.h"
#include "posted_recv.h"

namespace crosslink::collectives::transport_internal {

// What one connection accepts from its peer; exceeding either fails that connection (never the
// process) with a status naming it. The defaults are far above what any plan sends.
struct FrameLimits {
  // A frame's payload length. The executor sends one segment per frame, at most the plan's
  // max_segment_bytes (512 KiB by default); 1 GiB leaves room for any sane segment limit while
  // keeping a forged header from making the receiver allocate without bound. A longer header
  // fails the connection with kInvalidArgument: no correct sender produces it, so the input is
  // malformed rather than merely too much.
  uint64_t max_frame_bytes = uint64_t{1} << 30;
  // Payload bytes held as unexpected messages (arrived before their receive was posted). The
  // executor keeps up to kRecvWindow (8) receives of max_segment_bytes posted per peer, so
  // unexpected messages are what a peer sends beyond that window: a few MiB while both ranks
  // run the same collective, more only when one rank enters it late while its peer has already
  // sent (every frame of the peer's sends whose dependencies are met). 1 GiB covers that skew
  // for collectives up to 1 GiB per peer; beyond it the connection fails with
  // kResourceExhausted (a legitimate stream, but more than this rank will buffer for it).
  uint64_t max_unexpected_bytes = uint64_t{1} << 30;
};

class FrameMatcher {
 public:
  struct SendOp {
    FrameHeader header;
    // Borrowed from the caller until `completion` completes.
    absl::Span<const std::byte> payload;
    std::shared_ptr<Completion> completion;
    bool crc_known = false;  // header.crc32c already holds the payload's CRC32C (SendWithCrc)
  };

  // Where the receiver thread puts one arriving payload: a posted receive's buffer, or a buffer
  // of its own kept as an unexpected message until a receive claims it. Move-only.
  class Arrival {
   public:
    Arrival(Arrival&&) = default;
    Arrival& operator=(Arrival&&) = default;
    // header.length bytes to fill; null when sink() is set.
    std::byte* data() const { return data_; }
    // Set when the claimed receive is a piece receive (Connection::RecvPieces): the backend reads
    // the payload into a small scratch of its own, a piece at a time, checks each piece's CRC32C
    // and hands it to the sink at once (pieces as PieceSink says), then Delivers or fails as for
    // a buffer.
    PieceSink* sink() const { return sink_.get(); }
    // The test hook asked for this payload to be corrupted (CorruptNextReceiveForTesting).
    bool corrupt() const { return corrupt_; }

   private:
    friend class FrameMatcher;
    Arrival() = default;
    FrameHeader header_;
    std::shared_ptr<Completion> completion_;  // null: unexpected
    std::unique_ptr<std::byte[]> unexpected_;
    std::byte* data_ = nullptr;
    std::shared_ptr<PieceSink> sink_;
    bool corrupt_ = false;
  };

  using Limits = FrameLimits;

  // `describe` names the connection in error messages and handle names. `on_fail` runs once, on
  // the thread whose Fail made the status sticky, outside the mutex and before the queued
  // operations complete: the backend wakes its threads and tells the peer there.
  FrameMatcher(std::shared_ptr<const std::string> describe, std::function<void()> on_fail,
               Limits limits = Limits());
  FrameMatcher(const FrameMatcher&) = delete;
  FrameMatcher& operator=(const FrameMatcher&) = delete;

  // Queue a send for the sender thread; completed at once with the sticky status once failed.
  std::shared_ptr<Handle> Send(const FrameHeader& header, absl::Span<const std::byte> payload);
  std::shared_ptr<Handle> SendWithCrc(const FrameHeader& header,
                                      absl::Span<const std::byte> payload, uint32_t payload_crc32c);
  // Post a receive: it takes the oldest unexpected message at once if there is one, else waits
  // for the next arrival. A message longer than `buffer` fails the connection with
  // kInvalidArgument (naming both sizes, the sequence and the chunk).
  std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer);
  // As Recv, into `out`, resized to the message's length.
  std::shared_ptr<RecvHandle> RecvAllocated(std::shared_ptr<std::vector<std::byte>> out);
  // As Recv, into `sink` piece by piece (its arrival has sink() set); a message longer than
  // `max_bytes` fails as one longer than a posted buffer. A message that arrived unexpected was
  // verified whole already: it is handed over in pieces of kUnexpectedPieceBytes.
  std::shared_ptr<RecvHandle> RecvPieces(uint64_t max_bytes, std::shared_ptr<PieceSink> sink);
  static constexpr size_t kUnexpectedPieceBytes = 256 << 10;

  // Sender thread: blocks until a send is queued or the matcher failed, then replaces `batch`
  // with the oldest queued sends, at most `max_ops` of them and, past the first, no more than
  // `max_payload_bytes` payload bytes in all. False once failed: Fail completed the queue, and
  // the sender thread should stop. The caller completes the sends it took.
  bool TakeSends(size_t max_ops, size_t max_payload_bytes, std::vector<SendOp>* batch);

  // Receiver thread, after decoding `header`: where its payload goes. When no receive is posted
  // and no unexpected message waits, blocks up to `unexpected_wait` for one to be posted, so that
  // a payload may stay in the socket or ring (holding back a sender that runs ahead) instead of
  // being copied; not for a header-only frame (failure news must not be delayed), nor while
  // messages wait unclaimed (the owner is not posting; a backlog must not cost the wait again).
  // nullopt: the connection failed (perhaps just now: by a posted buffer too short for the
  // message, which completes that receive with kInvalidArgument; by a header beyond
  // Limits::max_frame_bytes, kInvalidArgument; by an unexpected message that would exceed
  // Limits::max_unexpected_bytes, or an allocation that failed, kResourceExhausted); the
  // receiver should stop. Never throws.
  std::optional<Arrival> Claim(const FrameHeader& header, absl::Duration unexpected_wait);
  // The payload is in place and its checksum verified: completes the receive with the header,
  // or keeps the message as unexpected (or hands it to a receive posted meanwhile).
  void Deliver(Arrival arrival);
  // Reading the payload failed with `error`: fails the connection with it, then completes the
  // claimed receive, if any, with `error` (sticky first, so that whoever sees the handle fail
  // also sees the connection's status).
  void FailArrival(Arrival arrival, absl::Status error);
  // For a receiver that failed the connection itself: completes the claimed receive, if any,
  // with the sticky status.
  void DropArrival(Arrival arrival);

  // Makes `reason` the sticky status (the first one wins; later calls change nothing), runs
  // `on_fail`, and completes every queued send and posted receive with the status; unexpected
  // messages are dropped.
  void Fail(absl::Status reason);
  absl::Status status() const;
  // True once Fail ran; lock-free, for a backend's wait predicates that cannot take the mutex.
  bool failed() const { return failed_.load(std::memory_order_acquire); }

  // The next Claim's arrival reports corrupt() (CorruptibleForTesting).
  void CorruptNextReceiveForTesting();

 private:
  using PostedRecv = transport_internal::PostedRecv;
  struct Unexpected {
    FrameHeader header;
    std::unique_ptr<std::byte[]> payload;
  };

  std::shared_ptr<Handle> Enqueue(SendOp op);
  std::shared_ptr<RecvHandle> Post(PostedRecv recv);
  // Sizes a RecvAllocated buffer for `header`; a buffer too short fails the connection and the
  // receive with kInvalidArgument (false).
  bool FitBuffer(const FrameHeader& header, PostedRecv& recv);
  // Copies an unexpected message into a posted receive and completes it.
  void DeliverUnexpected(Unexpected message, PostedRecv recv);
  // Claim with no receive posted: allocates the unexpected-message buffer for `header` within
  // Limits::max_unexpected_bytes; false after failing the connection (kResourceExhausted).
  bool ClaimUnexpected(const FrameHeader& header, Arrival& arrival);
  // kResourceExhausted: `header`'s payload could not be allocated.
  absl::Status AllocationFailed(const FrameHeader& header) const;

  const std::shared_ptr<const std::string> describe_;
  const std::shared_ptr<const std::string> send_what_;
  const std::shared_ptr<const std::string> recv_what_;
  const std::function<void()> on_fail_;
  const Limits limits_;
  std::atomic<bool> failed_{false};

  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::deque<SendOp> send_queue_ ABSL_GUARDED_BY(mu_);
  std::deque<PostedRecv> posted_ ABSL_GUARDED_BY(mu_);
  std::deque<Unexpected> unexpected_ ABSL_GUARDED_BY(mu_);  // never non-empty while posted_ is
  uint64_t unexpected_bytes_ ABSL_GUARDED_BY(mu_) = 0;      // payload bytes in unexpected_
  bool corrupt_next_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace crosslink::collectives::transport_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_FRAME_MATCHER_H_
