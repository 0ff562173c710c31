// The transport interface: framed, ordered, bidirectional byte messages between two ranks.
// Algorithms and executors see only this (Gloo's rule: algorithms never include a transport);
// backends live in transport/tcp and transport/inproc, and LinkEmulator wraps any Connection.
//
// Contract shared by every backend (checked by one conformance suite):
// - Messages on one connection arrive whole and in the order they were sent, per direction.
// - Send and Recv never block: they queue the operation and return a handle. Handle::Wait takes a
//   deadline and returns kDeadlineExceeded when it passes; the operation stays queued, so a caller
//   that gives up must Close the connection (its stream would be out of step otherwise).
// - The first error of a connection sticks: every later and every pending operation fails with it
//   at once (kUnavailable for a peer that closed or a broken link, kDataLoss for a CRC32C
//   mismatch, kInvalidArgument for a message longer than the posted buffer).
// - Thread-safe: any thread may call Send, Recv, Wait and Close concurrently.
#ifndef CROSSLINK_COLLECTIVES_TRANSPORT_TRANSPORT_H_
#define CROSSLINK_COLLECTIVES_TRANSPORT_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace crosslink::collectives {

// What travels in front of every payload. length and crc32c are filled in by the transport.
struct FrameHeader {
  uint64_t job_id = 0;    // a message from another job is a protocol error (kInvalidArgument)
  uint64_t sequence = 0;  // which collective of the communicator this belongs to
  uint32_t chunk = 0;     // which chunk of that collective
  uint32_t tag = 0;       // free for algorithms (step number, phase, acknowledgement kind)
  uint64_t length = 0;    // payload bytes
  uint32_t crc32c = 0;    // CRC32C of the payload
};

// Completion of one queued send or receive.
class Handle {
 public:
  virtual ~Handle() = default;
  // Blocks until the operation completes, fails, or `deadline` passes (kDeadlineExceeded).
  virtual absl::Status Wait(absl::Time deadline) = 0;
  // Non-blocking: has the operation finished (successfully or not)?
  virtual bool Done() const = 0;
};

class RecvHandle : public Handle {
 public:
  // Header of the received message; valid once Wait returned OK.
  virtual const FrameHeader& header() const = 0;
};

// Where a piece receive (Connection::RecvPieces) puts its payload: the transport hands the bytes
// over as they arrive, in order, a piece at a time while the piece is in this core's cache (a
// reduction consumes them there instead of reading a whole staged message from memory again).
// Consume runs on a transport thread (or on the thread that posts the receive, for a message that
// arrived before it), never concurrently with itself for one receive, and before the receive's
// handle completes; it must not block and must not throw.
//
// Checksums: each piece is CRC32C-checked as it goes by, but the message's checksum can only be
// verified after its last piece. A receive that then fails (kDataLoss for a corrupt payload,
// kUnavailable for a stream that broke in the middle) has already handed the sink pieces that
// are not the message: whatever the sink made of them must not be believed unless the receive
// succeeded. (The executor reduces into the caller's buffer, whose contents are unspecified after
// a failed collective, and completes the step, which is what lets later steps read the result,
// only once the receive succeeded.)
class PieceSink {
 public:
  virtual ~PieceSink() = default;
  // `piece` follows the `offset` bytes handed over before it. Every piece but the last is a
  // multiple of 64 bytes (so of every element size) and at most a few hundred KiB.
  virtual void Consume(uint64_t offset, absl::Span<const std::byte> piece) = 0;
};

class Connection {
 public:
  virtual ~Connection() = default;

  // Queues a message. `payload` is borrowed until the handle is done (no copy is promised).
  // `header.length` and `header.crc32c` are ignored and computed by the transport.
  virtual std::shared_ptr<Handle> Send(const FrameHeader& header,
                                       absl::Span<const std::byte> payload) = 0;
  // Send for a caller that already knows the payload's CRC32C (it computed it while the bytes
  // were in cache, e.g. fused with the reduction that produced them, or it received exactly these
  // bytes in a frame that carried it). A backend that checksums may put it in the frame instead
  // of reading the payload once more; the default ignores it and calls Send. A wrong value makes
  // the receiver fail with kDataLoss, as corruption on the wire would.
  virtual std::shared_ptr<Handle> SendWithCrc(const FrameHeader& header,
                                              absl::Span<const std::byte> payload,
                                              uint32_t payload_crc32c) {
    (void)payload_crc32c;
    return Send(header, payload);
  }
  // Posts a receive of the next message into `buffer` (borrowed until done). The message may be
  // shorter than the buffer (header().length says how long); longer is an error.
  virtual std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer) = 0;
  // Posts a receive of the next message into a buffer chosen when its header arrives: `*out` is
  // resized to header().length and filled (kept alive by the caller until done). In line with
  // Recv calls (one queue of posted receives). For a reader that must take whatever comes next
  // without knowing its size, e.g. ResumableConnection reading acknowledgements while its user
  // has posted no receive. Backends without it complete at once with kUnimplemented.
  virtual std::shared_ptr<RecvHandle> RecvAllocated(std::shared_ptr<std::vector<std::byte>> out);
  // Posts a receive of the next message (of at most `max_bytes`; longer is kInvalidArgument as
  // for Recv, before any piece is handed over) whose payload goes to `sink` piece by piece as it
  // arrives instead of into a buffer: reduce-on-receive, where a byte-stream backend reads each
  // piece into a small scratch of its own and the sink reduces it at once. In line with Recv
  // calls. Backends without it (ReceivesInPieces() false) complete at once with kUnimplemented;
  // their callers receive into a buffer and consume it afterwards.
  virtual std::shared_ptr<RecvHandle> RecvPieces(uint64_t max_bytes,
                                                 std::shared_ptr<PieceSink> sink);
  // Whether RecvPieces is implemented (TCP and shared memory; not the in-process transport, whose
  // sender copies into the posted buffer, nor wrappers that must keep the bytes whole, such as
  // LinkEmulator and ResumableConnection).
  virtual bool ReceivesInPieces() const { return false; }

  // Fails every pending and later operation with `reason` (kUnavailable when OK is passed) and
  // tells the peer, whose operations then fail with kUnavailable. Idempotent.
  virtual void Close(absl::Status reason = absl::OkStatus()) = 0;
  // The sticky error, or OK while the connection is healthy.
  virtual absl::Status status() const = 0;
  // "rank 2 -> rank 3 (tcp 127.0.0.1:40123)": used in every error message about this connection.
  virtual std::string Describe() const = 0;
};

// Accepts and opens connections for one rank. A backend's Context makes both ends of a pair
// agree on who is who: Connect(peer) on one side is matched by Accept on the other.
class Context {
 public:
  virtual ~Context() = default;
  // The address other ranks use to reach this one (e.g. "127.0.0.1:40123", "inproc:7").
  virtual std::string address() const = 0;
  // Opens a connection to `peer_rank` listening at `peer_address`. Blocks until connected or the
  // deadline; kUnavailable naming the rank and address when it cannot connect.
  virtual absl::StatusOr<std::unique_ptr<Connection>> Connect(int peer_rank,
                                                              const std::string& peer_address,
                                                              absl::Time deadline) = 0;
  // Accepts the next incoming connection and reports the peer's rank (bound to the connection by
  // the handshake; a connection from another job, or without the job key, is refused).
  virtual absl::StatusOr<std::pair<int, std::unique_ptr<Connection>>> Accept(
      absl::Time deadline) = 0;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_TRANSPORT_TRANSPORT_H_
