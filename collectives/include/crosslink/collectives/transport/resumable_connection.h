// ResumableConnection: a Connection that survives its inner connection breaking mid-collective.
// It numbers the messages it sends, keeps a copy of each until the peer acknowledges it, and when
// the inner connection fails with kUnavailable (a cut emulated link, a broken socket) it asks a
// caller-given Reconnect function for a new inner connection (the same link when it is back, or a
// detour through relay satellites), tells the peer "I have received N messages", hears the
// peer's count, and sends again exactly the messages after it. The user (the executor) sees only
// a delay: posted receives stay posted (they are re-posted into the same buffers; a message that
// broke half-way is received whole again), send handles complete once their message has been
// handed to a healthy inner connection, and nothing arrives twice or out of order, so plans and
// their results are unchanged (bit-identical to an unbroken run).
//
// Protocol (both ends must be ResumableConnections). Control frames are header-only frames with
// FrameHeader::chunk == kResumeControlChunk; tag says which, sequence carries a message count:
//   kAckTag     "I have received `sequence` messages": the sender drops its copies up to there.
//               Sent after every data message received (48 bytes; emulated links carry MBs).
//   kResumeTag  the first frame on a new inner connection: "I have received `sequence`".
//   kGoodbyeTag the user closed this end (sequence 0): the peer fails for good instead of
//               resuming, and echoes it (sequence 1) so that Close knows it was heard before it
//               shuts the inner connection down.
// Who reads acknowledgements when the user has posted no receive? A pump thread owns the inner
// connection's receive side: while the user has a receive posted it posts that buffer to the
// inner connection (zero copy; a control frame carries no payload, so it leaves the buffer
// untouched and the buffer is posted again); otherwise it posts Connection::RecvAllocated, whose
// buffer the transport sizes when the header arrives, and keeps a data message that lands there
// for the user's next Recv (one copy). So control frames never wait for the user, and the copies
// kept for resending are freed as the peer receives them.
//
// Resuming: Reconnect(deadline) is called repeatedly with deadlines of at most
// options.attempt_slice (so Close is noticed promptly) until it returns a connection whose
// handshake completes, or options.resume_timeout after the break has passed: the connection then
// fails for good with kDeadlineExceeded naming the link and the last attempt's error. Both ends
// resume independently; the Reconnect functions of the two ends must pair up (one dials, the
// other accepts). A failure other than kUnavailable (kDataLoss, kInvalidArgument, kAborted...)
// is not resumed: it fails the connection as usual.
//
// Thread-safe like any Connection. Owns the inner connection and a pump thread. Blocking: Close
// waits up to options.goodbye_wait for the peer to echo its goodbye; the destructor joins the pump
// (at most one attempt slice). Status codes: those of Connection, plus kDeadlineExceeded when a
// resume runs out of time, kDataLoss when the peers' counts disagree (a protocol error), and
// kUnimplemented when the inner connection has no RecvAllocated.
#ifndef CROSSLINK_COLLECTIVES_TRANSPORT_RESUMABLE_CONNECTION_H_
#define CROSSLINK_COLLECTIVES_TRANSPORT_RESUMABLE_CONNECTION_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crosslink/collectives/transport/completion.h"
#include "crosslink/collectives/transport/test_hooks.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

// FrameHeader::chunk of the resumable layer's control frames (the executor's abort frames use
// kAbortChunk, 0xFFFFFFFF; planners number chunks below 0xFFFFFF00).
inline constexpr uint32_t kResumeControlChunk = 0xFFFFFFFEu;
inline constexpr uint32_t kAckTag = 1;
inline constexpr uint32_t kResumeTag = 2;
inline constexpr uint32_t kGoodbyeTag = 3;

struct ResumableOptions {
  // A break that cannot be mended within this time fails the connection (kDeadlineExceeded).
  // The collective's own deadline usually comes first: the executor then closes the connection,
  // which ends the resume at the next attempt slice.
  absl::Duration resume_timeout = absl::Minutes(5);
  // Longest single call of Reconnect, and longest wait for the peer's resume frame is
  // max(handshake_timeout, attempt_slice).
  absl::Duration attempt_slice = absl::Milliseconds(500);
  absl::Duration handshake_timeout = absl::Seconds(5);
  absl::Duration goodbye_wait = absl::Milliseconds(200);
  // Payload bytes of data messages held because no receive of the user's was posted when they
  // arrived (the pump always reads its inner connection, so they are held here rather than
  // there). Exceeding it fails the connection for good with kResourceExhausted naming it. 1 GiB,
  // as FrameLimits::max_unexpected_bytes for the inner connection and for the same reasons:
  // far above what the executor's receive window leaves unposted, short of unbounded.
  uint64_t max_held_bytes = uint64_t{1} << 30;
};

struct ResumableCounters {
  int64_t resumes = 0;           // breaks mended
  int64_t messages_resent = 0;   // messages sent again on a new inner connection
  int64_t messages_unacked = 0;  // copies kept now for a possible resend
};

class ResumableConnection final : public Connection, public CorruptibleForTesting {
 public:
  // Returns a fresh inner connection to the same peer by `deadline`, or an error (kUnavailable
  // and kDeadlineExceeded are retried). Called on the pump thread only.
  using Reconnect = std::function<absl::StatusOr<std::unique_ptr<Connection>>(absl::Time deadline)>;

  ResumableConnection(std::unique_ptr<Connection> inner, Reconnect reconnect,
                      ResumableOptions options = {});
  ~ResumableConnection() override;

  std::shared_ptr<Handle> Send(const FrameHeader& header,
                               absl::Span<const std::byte> payload) override;
  std::shared_ptr<Handle> SendWithCrc(const FrameHeader& header,
                                      absl::Span<const std::byte> payload,
                                      uint32_t payload_crc32c) override;
  std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer) override;
  std::shared_ptr<RecvHandle> RecvAllocated(std::shared_ptr<std::vector<std::byte>> out) override;
  void Close(absl::Status reason = absl::OkStatus()) override;
  absl::Status status() const override;
  std::string Describe() const override { return describe_; }
  // Arms the hook of the current inner connection (none while resuming, or when it has none).
  void CorruptNextReceiveForTesting() override;

  ResumableCounters counters() const;

  // Shared with the send handles (they may outlive the connection).
  struct Outgoing;
  struct Core;

 private:
  struct PostedRecv {
    absl::Span<std::byte> buffer;
    std::shared_ptr<std::vector<std::byte>> allocated;  // RecvAllocated
    std::shared_ptr<Completion> completion;
  };
  struct Held {  // a data message that arrived while the user had no receive posted
    FrameHeader header;
    std::vector<std::byte> payload;
  };

  std::shared_ptr<Handle> Enqueue(const FrameHeader& header, absl::Span<const std::byte> payload,
                                  std::optional<uint32_t> crc);
  std::shared_ptr<RecvHandle> Post(PostedRecv recv);
  // Copies a held message into a receive and completes it.
  void DeliverHeld(Held message, PostedRecv recv);
  void PumpLoop();
  // Handles a control frame; false when the pump must stop (goodbye, protocol error).
  bool OnControl(const FrameHeader& header);
  // Mends a break of `broken` caused by `cause`; fails the connection for good when it cannot.
  void Resume(std::shared_ptr<Connection> broken, const absl::Status& cause);
  void FailForGood(absl::Status reason);

  const Reconnect reconnect_;
  const ResumableOptions options_;
  const std::string describe_;
  const std::shared_ptr<const std::string> recv_what_;
  const std::shared_ptr<Core> core_;

  // Fields of core_ that only the connection reads live here, under core_->mu.
  std::shared_ptr<Connection> inner_;        // nullptr while resuming
  std::shared_ptr<Connection> handshaking_;  // a new inner connection in its handshake
  std::deque<PostedRecv> posted_;            // the user's receives, in order
  std::deque<Held> held_;                    // never non-empty while posted_ is
  uint64_t held_bytes_ = 0;                  // payload bytes in held_
  uint64_t received_ = 0;                    // data messages received (delivered or held)
  bool closing_ = false;                     // Close is saying goodbye
  bool goodbye_done_ = false;  // ... and the pump has stopped (echo heard, or the inner broke)
  int64_t resumes_ = 0;
  int64_t resent_ = 0;

  std::thread pump_;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_TRANSPORT_RESUMABLE_CONNECTION_H_
