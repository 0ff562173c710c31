// Internal: one TCP connection with its sender and receiver threads (see tcp_transport.h).
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TCP_CONNECTION_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TCP_CONNECTION_H_

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "crosslink/collectives/transport/completion.h"
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
  struct SendOp {
    FrameHeader header;
    absl::Span<const std::byte> payload;
    std::shared_ptr<Completion> completion;
    bool crc_known = false;  // header.crc32c already holds the payload's CRC32C (SendWithCrc)
  };
  struct PostedRecv {
    absl::Span<std::byte> buffer;
    std::shared_ptr<Completion> completion;
    // Set for RecvAllocated: `buffer` becomes this vector, sized when the header arrives.
    std::shared_ptr<std::vector<std::byte>> allocated;
  };
  struct Unexpected {
    FrameHeader header;
    std::unique_ptr<std::byte[]> payload;
  };

  std::shared_ptr<Handle> Enqueue(SendOp op);
  std::shared_ptr<RecvHandle> Post(PostedRecv recv);
  void SenderLoop();
  void ReceiverLoop();
  // Reads header.length bytes into `out`, checksumming piece by piece; kDataLoss on a CRC
  // mismatch, kUnavailable when the stream breaks.
  absl::Status ReadPayload(const FrameHeader& header, std::byte* out, bool corrupt);
  // Copies an unexpected message into a posted receive and completes it.
  void DeliverUnexpected(Unexpected message, PostedRecv recv);
  // Makes `reason` the sticky error (first one wins), fails everything queued, and shuts the
  // socket down so both threads and the peer notice.
  void Fail(absl::Status reason);

  const int fd_;
  const int peer_rank_;
  const uint64_t job_id_;
  const size_t receive_piece_bytes_;
  const std::shared_ptr<const std::string> describe_;
  const std::shared_ptr<const std::string> send_what_;
  const std::shared_ptr<const std::string> recv_what_;

  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::deque<SendOp> send_queue_ ABSL_GUARDED_BY(mu_);
  std::deque<PostedRecv> posted_ ABSL_GUARDED_BY(mu_);
  std::deque<Unexpected> unexpected_ ABSL_GUARDED_BY(mu_);  // never non-empty while posted_ is
  bool corrupt_next_ ABSL_GUARDED_BY(mu_) = false;

  std::thread sender_;
  std::thread receiver_;
};

}  // namespace crosslink::collectives::tcp_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_TCP_CONNECTION_H_
