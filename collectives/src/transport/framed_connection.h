// Internal: the Connection half that the byte-stream backends (TCP, shared memory) share. A
// FramedConnection owns the connection's FrameMatcher (queued sends, posted receives, unexpected
// messages, the sticky status) and implements every Connection method on it; a backend derives
// from it, starts the threads that move the bytes (they drive matcher() as frame_matcher.h says)
// and keeps only what differs: how bytes are written and read, and what its first failure must
// shut down (`on_fail`).
//
// Thread-safe as FrameMatcher is. A derived class must stop its threads in its own destructor
// (after Close), since they use its members.
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_FRAMED_CONNECTION_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_FRAMED_CONNECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crosslink/collectives/transport/test_hooks.h"
#include "crosslink/collectives/transport/transport.h"
#include "frame_matcher.h"

namespace crosslink::collectives::transport_internal {

class FramedConnection : public Connection, public CorruptibleForTesting {
 public:
  std::shared_ptr<Handle> Send(const FrameHeader& header,
                               absl::Span<const std::byte> payload) final;
  std::shared_ptr<Handle> SendWithCrc(const FrameHeader& header,
                                      absl::Span<const std::byte> payload,
                                      uint32_t payload_crc32c) final;
  std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer) final;
  std::shared_ptr<RecvHandle> RecvAllocated(std::shared_ptr<std::vector<std::byte>> out) final;
  std::shared_ptr<RecvHandle> RecvPieces(uint64_t max_bytes, std::shared_ptr<PieceSink> sink) final;
  bool ReceivesInPieces() const final { return true; }
  // Fails the matcher with `reason` (kUnavailable "<describe>: closed" when OK), which runs
  // on_fail: the backend's threads and the peer notice.
  void Close(absl::Status reason) final;
  absl::Status status() const final;
  std::string Describe() const final { return *describe_; }
  void CorruptNextReceiveForTesting() final;

 protected:
  // `describe` names the connection ("rank 2 -> rank 3 (tcp 127.0.0.1:40123)"). `on_fail` runs
  // once, on the first failure (FrameMatcher's), after construction at the earliest.
  FramedConnection(std::string describe, std::function<void()> on_fail);

  // How long a received frame's payload waits in the byte stream (socket or ring) for its receive
  // to be posted before the backend moves it to an unexpected-message buffer instead. Leaving it
  // there holds back a sender that runs ahead at no cost (TCP's flow control, the ring's
  // capacity); the bound keeps any plan deadlock-free, since a peer may post its receive only
  // after one of its own sends completes.
  static constexpr absl::Duration kUnexpectedWait = absl::Milliseconds(50);

  // A backend's receiver thread, once it has a frame header's bytes: decodes them (for `job_id`)
  // and claims the receive the frame completes (FrameMatcher::Claim, waiting at most
  // kUnexpectedWait). A bad header fails the connection. nullopt: the connection failed, or the
  // frame was queued as unexpected; the backend then stops or reads the next frame.
  std::optional<FrameMatcher::Arrival> DecodeAndClaim(absl::Span<const std::byte> raw_header,
                                                      uint64_t job_id, FrameHeader* header);

  // Receiver thread: the scratch a piece receive's payload is read into, `configured` bytes
  // rounded down to a multiple of 64 (at least 64; PieceSink's promise), allocated once and
  // reused (it stays in this core's cache: the point of receiving in pieces). Sets *piece_bytes.
  std::byte* SinkScratch(size_t configured, size_t* piece_bytes);

  // The name of the connection, shared with the matcher's handles.
  const std::shared_ptr<const std::string> describe_;
  FrameMatcher& matcher() { return matcher_; }
  const FrameMatcher& matcher() const { return matcher_; }

 private:
  FrameMatcher matcher_;
  std::unique_ptr<std::byte[]> sink_scratch_;  // receiver thread only
  size_t sink_scratch_bytes_ = 0;
};

}  // namespace crosslink::collectives::transport_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_FRAMED_CONNECTION_H_
