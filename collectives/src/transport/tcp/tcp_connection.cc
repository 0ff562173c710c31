#include "tcp_connection.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
// How long the receiver keeps a frame's payload in the socket waiting for its receive to be
// posted before it reads it into an unexpected-message buffer instead (see ReceiverLoop).
constexpr absl::Duration kUnexpectedWait = absl::Milliseconds(50);

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

TcpConnection::TcpConnection(int fd, int local_rank, int peer_rank, uint64_t job_id,
                             const std::string& peer_address, size_t receive_piece_bytes)
    : fd_(fd),
      peer_rank_(peer_rank),
      job_id_(job_id),
      receive_piece_bytes_(receive_piece_bytes > 0 ? receive_piece_bytes : 256 * 1024),
      describe_(std::make_shared<const std::string>(
          absl::StrFormat("rank %d -> rank %d (tcp %s)", local_rank, peer_rank, peer_address))),
      send_what_(std::make_shared<const std::string>(absl::StrCat("send on ", *describe_))),
      recv_what_(std::make_shared<const std::string>(absl::StrCat("recv on ", *describe_))) {
  sender_ = std::thread([this] { SenderLoop(); });
  receiver_ = std::thread([this] { ReceiverLoop(); });
}

TcpConnection::~TcpConnection() {
  Close(absl::UnavailableError(absl::StrCat(*describe_, ": connection destroyed")));
  sender_.join();
  receiver_.join();
  ::close(fd_);
}

std::shared_ptr<Handle> TcpConnection::Send(const FrameHeader& header,
                                            absl::Span<const std::byte> payload) {
  return Enqueue(SendOp{header, payload, nullptr, /*crc_known=*/false});
}

std::shared_ptr<Handle> TcpConnection::SendWithCrc(const FrameHeader& header,
                                                   absl::Span<const std::byte> payload,
                                                   uint32_t payload_crc32c) {
  SendOp op{header, payload, nullptr, /*crc_known=*/true};
  op.header.crc32c = payload_crc32c;
  return Enqueue(std::move(op));
}

std::shared_ptr<Handle> TcpConnection::Enqueue(SendOp op) {
  auto completion = std::make_shared<Completion>(send_what_);
  op.completion = completion;
  absl::MutexLock lock(&mu_);
  if (!status_.ok()) {
    completion->Complete(status_);
    return completion;
  }
  send_queue_.push_back(std::move(op));
  return completion;
}

std::shared_ptr<RecvHandle> TcpConnection::Recv(absl::Span<std::byte> buffer) {
  return Post(PostedRecv{buffer, std::make_shared<Completion>(recv_what_), nullptr});
}

std::shared_ptr<RecvHandle> TcpConnection::RecvAllocated(
    std::shared_ptr<std::vector<std::byte>> out) {
  return Post(PostedRecv{absl::Span<std::byte>(), std::make_shared<Completion>(recv_what_),
                         std::move(out)});
}

std::shared_ptr<RecvHandle> TcpConnection::Post(PostedRecv recv) {
  std::shared_ptr<Completion> completion = recv.completion;
  Unexpected message;
  {
    absl::MutexLock lock(&mu_);
    if (!status_.ok()) {
      completion->Complete(status_);
      return completion;
    }
    if (unexpected_.empty()) {
      posted_.push_back(std::move(recv));
      return completion;
    }
    message = std::move(unexpected_.front());
    unexpected_.pop_front();
  }
  DeliverUnexpected(std::move(message), std::move(recv));
  return completion;
}

void TcpConnection::DeliverUnexpected(Unexpected message, PostedRecv recv) {
  if (recv.allocated != nullptr) {
    recv.allocated->resize(message.header.length);
    recv.buffer = absl::MakeSpan(*recv.allocated);
  }
  if (message.header.length > recv.buffer.size()) {
    const absl::Status error = absl::InvalidArgumentError(absl::StrFormat(
        "%s: message of %d bytes (sequence %d chunk %d) is longer than the posted buffer of %d "
        "bytes",
        *describe_, message.header.length, message.header.sequence, message.header.chunk,
        recv.buffer.size()));
    // Sticky first, so that whoever sees the handle fail also sees the connection's status.
    Fail(error);
    recv.completion->Complete(error);
    return;
  }
  if (message.header.length > 0) {
    std::memcpy(recv.buffer.data(), message.payload.get(), message.header.length);
  }
  recv.completion->Complete(absl::OkStatus(), &message.header);
}

void TcpConnection::SenderLoop() {
  std::vector<SendOp> batch;
  std::vector<EncodedFrameHeader> headers;
  std::vector<iovec> iov;
  for (;;) {
    batch.clear();
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !send_queue_.empty() || !status_.ok();
      };
      mu_.Await(absl::Condition(&ready));
      if (!status_.ok()) return;  // Fail() completed the queue
      size_t bytes = 0;
      while (!send_queue_.empty() && batch.size() < kMaxBatchOps &&
             (batch.empty() || bytes + send_queue_.front().payload.size() <= kBatchPayloadBytes)) {
        bytes += send_queue_.front().payload.size();
        batch.push_back(std::move(send_queue_.front()));
        send_queue_.pop_front();
      }
    }
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
    absl::Status error;
    size_t next = 0;  // first iovec not fully sent
    while (next < iov.size()) {
      msghdr msg{};
      msg.msg_iov = iov.data() + next;
      msg.msg_iovlen = std::min<size_t>(iov.size() - next, 1024);
      const ssize_t sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) continue;
        error = absl::UnavailableError(
            absl::StrFormat("%s: send failed: %s", *describe_, ErrnoText(errno)));
        break;
      }
      size_t left = static_cast<size_t>(sent);
      while (next < iov.size() && left >= iov[next].iov_len) left -= iov[next++].iov_len;
      if (left > 0) {
        iov[next].iov_base = static_cast<char*>(iov[next].iov_base) + left;
        iov[next].iov_len -= left;
      }
    }
    if (!error.ok()) {
      Fail(error);
      const absl::Status sticky = status();
      for (SendOp& op : batch) op.completion->Complete(sticky);
      return;
    }
    for (SendOp& op : batch) op.completion->Complete(absl::OkStatus());
  }
}

namespace {

// Reads exactly `n` bytes. 0 on success, otherwise errno (or -1 for end of stream).
int ReadFull(int fd, std::byte* out, size_t n, size_t* got) {
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

}  // namespace

absl::Status TcpConnection::ReadPayload(const FrameHeader& header, std::byte* out, bool corrupt) {
  uint32_t crc = 0;
  size_t done = 0;
  while (done < header.length) {
    const size_t piece = std::min<size_t>(receive_piece_bytes_, header.length - done);
    size_t got = 0;
    const int err = ReadFull(fd_, out + done, piece, &got);
    if (err != 0) {
      return absl::UnavailableError(absl::StrFormat(
          "%s: stream broke after %d of %d payload bytes (sequence %d chunk %d): %s", *describe_,
          done + got, header.length, header.sequence, header.chunk,
          err < 0 ? "peer closed" : ErrnoText(err)));
    }
    if (corrupt && done == 0) out[0] ^= std::byte{0x01};
    crc = Crc32c(absl::MakeConstSpan(out + done, piece), crc);
    done += piece;
  }
  if (corrupt && header.length == 0) crc ^= 1;
  return CheckPayloadCrc(header, crc, *describe_);
}

void TcpConnection::ReceiverLoop() {
  EncodedFrameHeader raw;
  for (;;) {
    size_t got = 0;
    const int err = ReadFull(fd_, raw.data(), raw.size(), &got);
    if (err != 0) {
      Fail(absl::UnavailableError(
          err < 0 && got == 0
              ? absl::StrFormat("%s: peer rank %d closed the connection", *describe_, peer_rank_)
              : absl::StrFormat("%s: stream broke in a frame header: %s", *describe_,
                                err < 0 ? "peer closed" : ErrnoText(err))));
      return;
    }
    absl::StatusOr<FrameHeader> header = DecodeFrameHeader(raw, job_id_, *describe_);
    if (!header.ok()) {
      Fail(header.status());
      return;
    }
    PostedRecv recv;
    bool corrupt = false;
    {
      absl::MutexLock lock(&mu_);
      // Leave the payload in the socket until its receive is posted: TCP's own flow control then
      // holds back a sender that runs ahead (as a ring's first step does, with a whole block
      // ready at once), at no cost, where reading it now would copy it into a fresh heap buffer
      // (page faults, a cold extra memcpy later). The wait is bounded so that a peer whose
      // receive is posted only after one of its own sends completes cannot deadlock with us.
      // No wait for a header-only frame (an abort, a barrier token: nothing to hold back, and
      // failure news must not be delayed), nor while earlier messages are still unclaimed (the
      // owner is not posting; each frame of a backlog must not cost the timeout again).
      auto posted_or_failed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !posted_.empty() || !status_.ok();
      };
      if (header->length > 0 && unexpected_.empty()) {
        mu_.AwaitWithTimeout(absl::Condition(&posted_or_failed), kUnexpectedWait);
      }
      if (!status_.ok()) return;
      corrupt = std::exchange(corrupt_next_, false);
      if (!posted_.empty()) {
        recv = std::move(posted_.front());
        posted_.pop_front();
      }
    }
    if (recv.completion != nullptr) {
      // Zero copy: the payload goes straight into the caller's buffer.
      if (recv.allocated != nullptr) {
        recv.allocated->resize(header->length);
        recv.buffer = absl::MakeSpan(*recv.allocated);
      }
      absl::Status error;
      if (header->length > recv.buffer.size()) {
        error = absl::InvalidArgumentError(absl::StrFormat(
            "%s: message of %d bytes (sequence %d chunk %d) is longer than the posted buffer of "
            "%d bytes",
            *describe_, header->length, header->sequence, header->chunk, recv.buffer.size()));
      } else {
        error = ReadPayload(*header, recv.buffer.data(), corrupt);
      }
      if (!error.ok()) {
        // Sticky first, so that whoever sees the handle fail also sees the connection's status.
        Fail(error);
        recv.completion->Complete(error);
        return;
      }
      recv.completion->Complete(absl::OkStatus(), &*header);
      continue;
    }
    Unexpected message{*header, std::unique_ptr<std::byte[]>(new std::byte[header->length])};
    if (absl::Status error = ReadPayload(*header, message.payload.get(), corrupt); !error.ok()) {
      Fail(error);
      return;
    }
    {
      absl::MutexLock lock(&mu_);
      if (!status_.ok()) return;
      if (posted_.empty()) {
        unexpected_.push_back(std::move(message));
        continue;
      }
      // A receive was posted while the payload arrived: it is the one this message belongs to.
      recv = std::move(posted_.front());
      posted_.pop_front();
    }
    DeliverUnexpected(std::move(message), std::move(recv));
  }
}

void TcpConnection::Fail(absl::Status reason) {
  std::deque<SendOp> sends;
  std::deque<PostedRecv> recvs;
  {
    absl::MutexLock lock(&mu_);
    if (!status_.ok()) return;
    status_ = std::move(reason);
    sends.swap(send_queue_);
    recvs.swap(posted_);
    unexpected_.clear();
  }
  // Wakes both threads (blocked in sendmsg / recv) and sends the peer an end of stream.
  ::shutdown(fd_, SHUT_RDWR);
  const absl::Status sticky = status();
  for (SendOp& op : sends) op.completion->Complete(sticky);
  for (PostedRecv& r : recvs) r.completion->Complete(sticky);
}

void TcpConnection::Close(absl::Status reason) {
  if (reason.ok()) reason = absl::UnavailableError(absl::StrCat(*describe_, ": closed"));
  Fail(std::move(reason));
}

absl::Status TcpConnection::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void TcpConnection::CorruptNextReceiveForTesting() {
  absl::MutexLock lock(&mu_);
  corrupt_next_ = true;
}

}  // namespace crosslink::collectives::tcp_internal
