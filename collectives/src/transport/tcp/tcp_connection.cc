#include "tcp_connection.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/transport/crc32c.h"
#include "crosslink/collectives/transport/frame.h"

namespace crosslink::collectives::tcp_internal {
namespace {

// Small messages are gathered into one sendmsg (fewer syscalls, fewer segments with
// TCP_NODELAY); a batch stops growing at this many payload bytes so that a large message's CRC
// is not computed long before its bytes leave.
constexpr size_t kBatchPayloadBytes = 256 * 1024;
constexpr size_t kMaxBatchOps = 64;  // 2 iovecs each, well under IOV_MAX (1024)

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

TcpConnection::TcpConnection(int fd, int local_rank, int peer_rank, uint64_t job_id,
                             const std::string& peer_address, size_t receive_piece_bytes,
                             const handshake::SessionKey& session_key,
                             std::unique_ptr<TlsSession> tls)
    : FramedConnection(
          absl::StrFormat("rank %d -> rank %d (%s %s)", local_rank, peer_rank,
                          tls != nullptr ? "tcp+tls" : "tcp", peer_address),
          // Wakes both threads (blocked in sendmsg / recv) and sends the peer an end of stream.
          [this] { ::shutdown(fd_, SHUT_RDWR); }),
      fd_(fd),
      peer_rank_(peer_rank),
      job_id_(job_id),
      receive_piece_bytes_(receive_piece_bytes > 0 ? receive_piece_bytes : 256 * 1024),
      session_key_(session_key),
      tls_(std::move(tls)) {
  sender_ = std::thread([this] { SenderLoop(); });
  receiver_ = std::thread([this] { ReceiverLoop(); });
}

TcpConnection::~TcpConnection() {
  Close(absl::UnavailableError(absl::StrCat(*describe_, ": connection destroyed")));
  sender_.join();
  receiver_.join();
  tls_.reset();
  ::close(fd_);
}

void TcpConnection::SenderLoop() {
  std::vector<transport_internal::FrameMatcher::SendOp> batch;
  std::vector<EncodedFrameHeader> headers;
  std::vector<iovec> iov;
  for (;;) {
    if (!matcher().TakeSends(kMaxBatchOps, kBatchPayloadBytes, &batch)) return;
    headers.resize(batch.size());
    iov.clear();
    for (size_t i = 0; i < batch.size(); ++i) {
      FrameHeader& h = batch[i].header;
      h.job_id = job_id_;
      h.length = batch[i].payload.size();
      if (!batch[i].crc_known) h.crc32c = Crc32c(batch[i].payload);
      headers[i] = EncodeFrameHeader(h);
      iov.push_back(iovec{headers[i].data(), headers[i].size()});
      if (!batch[i].payload.empty()) {
        iov.push_back(
            iovec{const_cast<std::byte*>(batch[i].payload.data()), batch[i].payload.size()});
      }
    }
    const absl::Status error = SendAll(iov);
    if (!error.ok()) {
      matcher().Fail(error);
      const absl::Status sticky = matcher().status();
      for (auto& op : batch) op.completion->Complete(sticky);
      return;
    }
    for (auto& op : batch) op.completion->Complete(absl::OkStatus());
  }
}

absl::Status TcpConnection::SendAll(std::vector<iovec>& iov) {
  if (tls_ != nullptr) {
    absl::Status status = tls_->WriteAll(iov);
    if (status.ok()) return status;
    return absl::UnavailableError(absl::StrCat(*describe_, ": ", status.message()));
  }
  size_t next = 0;  // first iovec not fully sent
  while (next < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + next;
    msg.msg_iovlen = std::min<size_t>(iov.size() - next, 1024);
    const ssize_t sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrFormat("%s: send failed: %s", *describe_, ErrnoText(errno)));
    }
    size_t left = static_cast<size_t>(sent);
    while (next < iov.size() && left >= iov[next].iov_len) left -= iov[next++].iov_len;
    if (left > 0) {
      iov[next].iov_base = static_cast<char*>(iov[next].iov_base) + left;
      iov[next].iov_len -= left;
    }
  }
  return absl::OkStatus();
}

int TcpConnection::ReadFull(std::byte* out, size_t n, size_t* got) {
  if (tls_ != nullptr) return tls_->ReadFull(out, n, got);
  const int fd = fd_;
  *got = 0;
  while (*got < n) {
    const ssize_t r = ::recv(fd, out + *got, n - *got, MSG_WAITALL);
    if (r == 0) return -1;
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    *got += static_cast<size_t>(r);
  }
  return 0;
}

std::string TcpConnection::ReadErrorText(int err) const {
  if (err < 0) return "peer closed";
  if (err == EPROTO && tls_ != nullptr) return tls_->last_error();
  return ErrnoText(err);
}

absl::Status TcpConnection::ReadPayload(const FrameHeader& header, std::byte* out, bool corrupt) {
  uint32_t crc = 0;
  size_t done = 0;
  while (done < header.length) {
    const size_t piece = std::min<size_t>(receive_piece_bytes_, header.length - done);
    size_t got = 0;
    const int err = ReadFull(out + done, piece, &got);
    if (err != 0) {
      return absl::UnavailableError(absl::StrFormat(
          "%s: stream broke after %d of %d payload bytes (sequence %d chunk %d): %s", *describe_,
          done + got, header.length, header.sequence, header.chunk, ReadErrorText(err)));
    }
    if (corrupt && done == 0) out[0] ^= std::byte{0x01};
    crc = Crc32c(absl::MakeConstSpan(out + done, piece), crc);
    done += piece;
  }
  if (corrupt && header.length == 0) crc ^= 1;
  return CheckPayloadCrc(header, crc, *describe_);
}

absl::Status TcpConnection::ReadPayloadIntoSink(const FrameHeader& header, PieceSink* sink,
                                                bool corrupt) {
  size_t piece_bytes = 0;
  std::byte* scratch = SinkScratch(receive_piece_bytes_, &piece_bytes);
  uint32_t crc = 0;
  for (uint64_t done = 0; done < header.length; done += piece_bytes) {
    const size_t piece = std::min<uint64_t>(piece_bytes, header.length - done);
    size_t got = 0;
    const int err = ReadFull(scratch, piece, &got);
    if (err != 0) {
      return absl::UnavailableError(absl::StrFormat(
          "%s: stream broke after %d of %d payload bytes (sequence %d chunk %d): %s", *describe_,
          done + got, header.length, header.sequence, header.chunk, ReadErrorText(err)));
    }
    if (corrupt && done == 0) scratch[0] ^= std::byte{0x01};
    crc = Crc32c(absl::MakeConstSpan(scratch, piece), crc);
    sink->Consume(done, absl::MakeConstSpan(scratch, piece));
  }
  if (corrupt && header.length == 0) crc ^= 1;
  return CheckPayloadCrc(header, crc, *describe_);
}

void TcpConnection::ReceiverLoop() {
  EncodedFrameHeader raw;
  for (;;) {
    size_t got = 0;
    const int err = ReadFull(raw.data(), raw.size(), &got);
    if (err != 0) {
      matcher().Fail(absl::UnavailableError(
          err < 0 && got == 0
              ? absl::StrFormat("%s: peer rank %d closed the connection", *describe_, peer_rank_)
              : absl::StrFormat("%s: stream broke in a frame header: %s", *describe_,
                                ReadErrorText(err))));
      return;
    }
    // The payload stays in the socket while the matcher waits (briefly) for its receive to be
    // posted: TCP's own flow control then holds back a sender that runs ahead (as a ring's first
    // step does, with a whole block ready at once), at no cost, where reading it now would copy
    // it into a fresh heap buffer (page faults, a cold extra memcpy later).
    FrameHeader header;
    std::optional<transport_internal::FrameMatcher::Arrival> arrival =
        DecodeAndClaim(raw, job_id_, &header);
    if (!arrival.has_value()) return;
    // A piece receive (reduce-on-receive) goes through a cache-sized scratch into its sink.
    if (absl::Status error = arrival->sink() != nullptr
                                 ? ReadPayloadIntoSink(header, arrival->sink(), arrival->corrupt())
                                 : ReadPayload(header, arrival->data(), arrival->corrupt());
        !error.ok()) {
      matcher().FailArrival(*std::move(arrival), std::move(error));
      return;
    }
    matcher().Deliver(*std::move(arrival));
  }
}

}  // namespace crosslink::collectives::tcp_internal
