// Internal: one TCP connection with its sender and receiver threads (see tcp_transport.h). The
// matching of frames to receives, the send queue and the sticky status live in FrameMatcher
// (../frame_matcher.h), shared with the shared-memory backend; this class moves the bytes.
// Thread-safe as FrameMatcher is.
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TCP_CONNECTION_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TCP_CONNECTION_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../frame_matcher.h"
#include "crosslink/collectives/transport/test_hooks.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives::tcp_internal {

class TcpConnection final : public Connection, public CorruptibleForTesting {
 public:
  // Takes ownership of `fd`, a connected socket whose handshake is done.
  TcpConnection(int fd, int local_rank, int peer_rank, uint64_t job_id,
                const std::string& peer_address, size_t receive_piece_bytes);
  ~TcpConnection() override;

  std::shared_ptr<Handle> Send(const FrameHeader& header,
                               absl::Span<const std::byte> payload) override;
  std::shared_ptr<Handle> SendWithCrc(const FrameHeader& header,
                                      absl::Span<const std::byte> payload,
                                      uint32_t payload_crc32c) override;
  std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer) override;
  std::shared_ptr<RecvHandle> RecvAllocated(std::shared_ptr<std::vector<std::byte>> out) override;
  void Close(absl::Status reason) override;
  absl::Status status() const override;
  std::string Describe() const override { return *describe_; }
  void CorruptNextReceiveForTesting() override;

 private:
  void SenderLoop();
  void ReceiverLoop();
  // Reads header.length bytes into `out`, checksumming piece by piece; kDataLoss on a CRC
  // mismatch, kUnavailable when the stream breaks.
  absl::Status ReadPayload(const FrameHeader& header, std::byte* out, bool corrupt);

  const int fd_;
  const int peer_rank_;
  const uint64_t job_id_;
  const size_t receive_piece_bytes_;
  const std::shared_ptr<const std::string> describe_;
  // Queued sends, posted receives, unexpected messages and the sticky status. Its first failure
  // shuts the socket down so that both threads (blocked in sendmsg / recv) and the peer notice.
  transport_internal::FrameMatcher matcher_;

  std::thread sender_;
  std::thread receiver_;
};

}  // namespace crosslink::collectives::tcp_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TCP_CONNECTION_H_
