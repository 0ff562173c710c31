// Internal: the two ends of an in-process connection and the channel they share.
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_INPROC_INPROC_CONNECTION_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_INPROC_INPROC_CONNECTION_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "../posted_recv.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "crosslink/collectives/transport/completion.h"
#include "crosslink/collectives/transport/test_hooks.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives::inproc_internal {

using transport_internal::PostedRecv;

struct UnexpectedMessage {
  FrameHeader header;
  std::vector<std::byte> payload;
};

// What travels towards one end, and that end's sticky status.
struct Inbound {
  std::deque<PostedRecv> posted;
  std::deque<UnexpectedMessage> unexpected;  // never non-empty while `posted` is
  absl::Status status;
  bool corrupt_next = false;
};

// One mutex for both directions: an in-process message costs one memcpy, and the copy into a
// posted buffer happens outside the lock, so contention stays short.
struct Channel {
  uint64_t job_id = 0;
  int rank[2] = {0, 0};
  std::shared_ptr<const std::string> describe[2];
  std::shared_ptr<const std::string> send_what[2];
  std::shared_ptr<const std::string> recv_what[2];
  absl::Mutex mu;
  Inbound end[2] ABSL_GUARDED_BY(mu);
};

class InProcConnection final : public Connection, public CorruptibleForTesting {
 public:
  InProcConnection(std::shared_ptr<Channel> channel, int side)
      : channel_(std::move(channel)), side_(side) {}
  ~InProcConnection() override;

  std::shared_ptr<Handle> Send(const FrameHeader& header,
                               absl::Span<const std::byte> payload) override;
  // The caller's CRC travels in the header as it would on a wire, so a corruption a layer above
  // injected (a LinkEmulator's bit errors) is caught by the receiver's check like any other.
  std::shared_ptr<Handle> SendWithCrc(const FrameHeader& header,
                                      absl::Span<const std::byte> payload,
                                      uint32_t payload_crc32c) override;
  std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer) override;
  std::shared_ptr<RecvHandle> RecvAllocated(std::shared_ptr<std::vector<std::byte>> out) override;
  void Close(absl::Status reason) override;
  absl::Status status() const override;
  std::string Describe() const override { return *channel_->describe[side_]; }
  void CorruptNextReceiveForTesting() override;

 private:
  // Copies a message into a posted receive of end `to` and completes it; on a size or CRC error
  // fails the connection from that end. Returns the status for the sender's handle.
  absl::Status Deliver(int to, const FrameHeader& header, absl::Span<const std::byte> payload,
                       PostedRecv& recv, bool corrupt);
  // Sets end `side`'s sticky error to `reason` and the other end's to kUnavailable, failing
  // their pending receives.
  void Fail(int side, absl::Status reason);
  std::shared_ptr<RecvHandle> Post(PostedRecv recv);
  // Send and SendWithCrc: `crc32c` is what the header carries.
  std::shared_ptr<Handle> SendFrame(const FrameHeader& header, absl::Span<const std::byte> payload,
                                    uint32_t crc32c);

  std::shared_ptr<Channel> channel_;
  const int side_;
};

// A connected pair between rank_a (end 0) and rank_b (end 1).
std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> MakePair(int rank_a, int rank_b,
                                                                             uint64_t job_id);

}  // namespace crosslink::collectives::inproc_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_INPROC_INPROC_CONNECTION_H_
