#include "shm_connection.h"

#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/transport/crc32c.h"
#include "crosslink/collectives/transport/frame.h"

namespace crosslink::collectives::shm_internal {
namespace {

// Every frame in a ring starts with a record word: the frame header follows, then either the
// payload (kInline) or the payload's address in the sender's memory (kPull), which the receiver
// reads with process_vm_readv and acknowledges through the ring's pulled counter.
constexpr uint64_t kInline = 0;
constexpr uint64_t kPull = 1;
constexpr size_t kRecordBytes = sizeof(uint64_t) + kFrameHeaderBytes;

}  // namespace

ShmConnection::ShmConnection(std::unique_ptr<Connection> liveness, std::unique_ptr<Segment> segment,
                             int side, int peer_rank, uint64_t job_id, std::string describe,
                             size_t piece_bytes, size_t pull_min_bytes)
    : FramedConnection(
          std::move(describe),
          [this] {
            // The flag tells a live peer at once (and wakes every waiter of both
            // rings, ours included); closing the socket tells it too, and ends our
            // liveness thread.
            segment_->SetClosed(side_);
            liveness_->Close(absl::UnavailableError(absl::StrCat(*describe_, ": closed")));
          }),
      liveness_(std::move(liveness)),
      segment_(std::move(segment)),
      side_(side),
      peer_rank_(peer_rank),
      job_id_(job_id),
      peer_pid_(segment_->peer_pid(side)),
      piece_bytes_(piece_bytes > 0 ? piece_bytes : 256 << 10),
      pull_min_bytes_(pull_min_bytes),
      out_(segment_->ring(side)),
      in_(segment_->ring(1 - side)) {
  // Tells the peer's sender whether it may hand us large payloads by address.
  segment_->ProbePeerMemory(side_, peer_pid_);
  sender_ = std::thread([this] { SenderLoop(); });
  receiver_ = std::thread([this] { ReceiverLoop(); });
  liveness_thread_ = std::thread([this] { LivenessLoop(); });
}

ShmConnection::~ShmConnection() {
  Close(absl::UnavailableError(absl::StrCat(*describe_, ": connection destroyed")));
  sender_.join();
  receiver_.join();
  liveness_thread_.join();
}

bool ShmConnection::PeerGone() const {
  return segment_->IsClosed(1 - side_) || liveness_lost_.load(std::memory_order_acquire);
}

bool ShmConnection::WriteRing(const std::byte* src, size_t n) {
  const std::function<bool()> stop = [this] { return matcher().failed() || PeerGone(); };
  while (n > 0) {
    if (!out_.WaitWritable(1, stop)) {
      // The peer reads nothing more: fail at once (a receiver would drain first).
      if (!matcher().failed()) FailPeerGone("while sending");
      return false;
    }
    const size_t k = std::min<uint64_t>({n, out_.Writable(), piece_bytes_});
    out_.Write(src, k);
    src += k;
    n -= k;
  }
  return true;
}

bool ShmConnection::ReadRing(std::byte* dst, size_t n, uint32_t* crc, bool corrupt_first) {
  const std::function<bool()> stop = [this] { return matcher().failed() || PeerGone(); };
  bool first = true;
  while (n > 0) {
    uint64_t readable = in_.Readable();
    if (readable == 0) {
      // Bytes the peer wrote before it closed are still delivered, as TCP delivers them before
      // the end of stream; only an empty ring after the peer left ends the receive.
      if (!in_.WaitReadable(1, stop) && (matcher().failed() || in_.Readable() == 0)) return false;
      readable = in_.Readable();
    }
    const size_t k = std::min<uint64_t>({n, readable, piece_bytes_});
    in_.Read(dst, k);
    if (corrupt_first && first) dst[0] ^= std::byte{0x01};
    first = false;
    // Checksummed now, while the piece just written is in this core's cache.
    if (crc != nullptr) *crc = Crc32c(absl::MakeConstSpan(dst, k), *crc);
    dst += k;
    n -= k;
  }
  return true;
}

absl::Status ShmConnection::Pull(std::byte* dst, size_t n, uint64_t address, uint32_t* crc,
                                 bool corrupt_first) {
  const pid_t pid = peer_pid_;
  size_t done = 0;
  while (done < n) {
    const size_t k = std::min(n - done, piece_bytes_);
    iovec local{dst + done, k};
    iovec remote{reinterpret_cast<void*>(address + done), k};
    const ssize_t got = ::process_vm_readv(pid, &local, 1, &remote, 1, 0);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      return absl::UnavailableError(absl::StrFormat(
          "%s: cannot read the payload from peer rank %d (pid %d) after %d of %d bytes: %s",
          *describe_, peer_rank_, pid, done, n, got < 0 ? std::strerror(errno) : "no progress"));
    }
    // The sender's Close completes its send at once, and its caller may then reuse the buffer:
    // bytes read after the close flag went up are not the message. (The flag goes up before the
    // send completes, so a piece read before it shows was read while still borrowed.)
    if (segment_->IsClosed(1 - side_)) {
      return absl::UnavailableError(
          absl::StrFormat("%s: peer rank %d closed the connection after %d of %d payload bytes",
                          *describe_, peer_rank_, done, n));
    }
    if (corrupt_first && done == 0) dst[0] ^= std::byte{0x01};
    *crc = Crc32c(absl::MakeConstSpan(dst + done, static_cast<size_t>(got)), *crc);
    done += static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

bool ShmConnection::ReceiveIntoSink(const FrameHeader& header, uint64_t kind, uint64_t address,
                                    bool corrupt, PieceSink* sink, uint32_t* crc) {
  size_t piece_bytes = 0;
  std::byte* scratch = SinkScratch(piece_bytes_, &piece_bytes);
  for (uint64_t done = 0; done < header.length; done += piece_bytes) {
    const size_t k = std::min<uint64_t>(piece_bytes, header.length - done);
    const bool corrupt_piece = corrupt && done == 0;
    if (kind == kPull) {
      absl::Status pulled = Pull(scratch, k, address + done, crc, corrupt_piece);
      if (!pulled.ok()) {
        matcher().Fail(pulled);
        return false;
      }
    } else if (!ReadRing(scratch, k, crc, corrupt_piece)) {
      if (!matcher().failed()) {
        FailPeerGone(absl::StrFormat("in the payload of a %d-byte message (sequence %d chunk %d)",
                                     header.length, header.sequence, header.chunk));
      }
      return false;
    }
    sink->Consume(done, absl::MakeConstSpan(scratch, k));
  }
  if (kind == kPull) in_.SignalPulled();
  return true;
}

void ShmConnection::SenderLoop() {
  std::vector<transport_internal::FrameMatcher::SendOp> batch;
  // One send at a time: each is copied into (or announced through) the ring on its own.
  while (matcher().TakeSends(/*max_ops=*/1, /*max_payload_bytes=*/0, &batch)) {
    transport_internal::FrameMatcher::SendOp& op = batch.front();
    FrameHeader& h = op.header;
    h.job_id = job_id_;
    h.length = op.payload.size();
    if (!op.crc_known) h.crc32c = Crc32c(op.payload);
    const bool pull =
        pull_min_bytes_ > 0 && op.payload.size() >= pull_min_bytes_ && segment_->PeerCanRead(side_);
    std::array<std::byte, kRecordBytes + sizeof(uint64_t)> record;
    const uint64_t kind = pull ? kPull : kInline;
    std::memcpy(record.data(), &kind, sizeof(kind));
    const EncodedFrameHeader encoded = EncodeFrameHeader(h);
    std::memcpy(record.data() + sizeof(kind), encoded.data(), encoded.size());
    const uint64_t address = reinterpret_cast<uint64_t>(op.payload.data());
    std::memcpy(record.data() + kRecordBytes, &address, sizeof(address));
    bool sent = false;
    if (pull) {
      // The payload stays borrowed until the receiver has pulled it: the handle completes then.
      const std::function<bool()> stop = [this] { return matcher().failed() || PeerGone(); };
      sent = WriteRing(record.data(), record.size()) && out_.WaitPulled(++pulls_sent_, stop);
      if (!sent && !matcher().failed()) FailPeerGone("while it read a payload from this process");
    } else {
      sent =
          WriteRing(record.data(), kRecordBytes) && WriteRing(op.payload.data(), op.payload.size());
    }
    if (!sent) {
      op.completion->Complete(matcher().status());
      return;
    }
    op.completion->Complete(absl::OkStatus());
  }
}

void ShmConnection::ReceiverLoop() {
  std::array<std::byte, kRecordBytes> raw;
  for (;;) {
    uint64_t kind = 0;
    uint64_t address = 0;
    if (!ReadRing(raw.data(), raw.size(), nullptr, false)) {
      if (!matcher().failed()) FailPeerGone("");
      return;
    }
    std::memcpy(&kind, raw.data(), sizeof(kind));
    if (kind == kPull &&
        !ReadRing(reinterpret_cast<std::byte*>(&address), sizeof(address), nullptr, false)) {
      if (!matcher().failed()) FailPeerGone("");
      return;
    }
    if (kind != kInline && kind != kPull) {
      matcher().Fail(absl::InvalidArgumentError(
          absl::StrFormat("%s: unknown ring record kind %d", *describe_, kind)));
      return;
    }
    // As over TCP, the payload stays in the ring while the matcher waits (briefly) for its
    // receive to be posted.
    FrameHeader header;
    std::optional<transport_internal::FrameMatcher::Arrival> arrival =
        DecodeAndClaim(absl::MakeConstSpan(raw).subspan(sizeof(kind)), job_id_, &header);
    if (!arrival.has_value()) return;
    uint32_t crc = 0;
    if (arrival->sink() != nullptr) {
      // Reduce-on-receive: each piece goes through a small scratch straight into the sink.
      if (!ReceiveIntoSink(header, kind, address, arrival->corrupt(), arrival->sink(), &crc)) {
        matcher().DropArrival(*std::move(arrival));
        return;
      }
    } else if (kind == kPull) {
      absl::Status pulled = Pull(arrival->data(), header.length, address, &crc, arrival->corrupt());
      if (pulled.ok()) in_.SignalPulled();
      if (!pulled.ok()) {
        matcher().Fail(pulled);
        matcher().DropArrival(*std::move(arrival));
        return;
      }
    } else if (!ReadRing(arrival->data(), header.length, &crc, arrival->corrupt())) {
      if (!matcher().failed()) {
        FailPeerGone(absl::StrFormat("in the payload of a %d-byte message (sequence %d chunk %d)",
                                     header.length, header.sequence, header.chunk));
      }
      matcher().DropArrival(*std::move(arrival));
      return;
    }
    if (arrival->corrupt() && header.length == 0) crc ^= 1;
    if (absl::Status error = CheckPayloadCrc(header, crc, *describe_); !error.ok()) {
      matcher().FailArrival(*std::move(arrival), std::move(error));
      return;
    }
    matcher().Deliver(*std::move(arrival));
  }
}

void ShmConnection::LivenessLoop() {
  // Nothing travels on the socket after the handshake: this receive completes only when the
  // peer's end closes (its process exited, or it closed the connection) or this end is closed.
  std::byte unused[kFrameHeaderBytes];
  std::shared_ptr<RecvHandle> watch = liveness_->Recv(absl::MakeSpan(unused));
  const absl::Status ended = watch->Wait(absl::InfiniteFuture());
  if (matcher().failed()) return;  // this end closed first
  {
    absl::MutexLock lock(&liveness_mu_);
    liveness_status_ = absl::UnavailableError(absl::StrFormat(
        "%s: peer rank %d is gone (its liveness socket %s)", *describe_, peer_rank_,
        ended.ok() ? "carried an unexpected frame" : absl::StrCat("ended: ", ended.message())));
  }
  liveness_lost_.store(true, std::memory_order_release);
  segment_->ring(0).WakeAll();
  segment_->ring(1).WakeAll();
}

void ShmConnection::FailPeerGone(const std::string& where) {
  absl::Status reason;
  {
    absl::MutexLock lock(&liveness_mu_);
    reason = liveness_status_;
  }
  if (reason.ok()) {
    reason = absl::UnavailableError(
        absl::StrFormat("%s: peer rank %d closed the connection", *describe_, peer_rank_));
  }
  if (!where.empty()) reason = absl::UnavailableError(absl::StrCat(reason.message(), " ", where));
  matcher().Fail(std::move(reason));
}

}  // namespace crosslink::collectives::shm_internal
