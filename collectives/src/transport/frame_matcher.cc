#include "frame_matcher.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crosslink::collectives::transport_internal {

FrameMatcher::FrameMatcher(std::shared_ptr<const std::string> describe,
                           std::function<void()> on_fail, Limits limits)
    : describe_(std::move(describe)),
      send_what_(std::make_shared<const std::string>(absl::StrCat("send on ", *describe_))),
      recv_what_(std::make_shared<const std::string>(absl::StrCat("recv on ", *describe_))),
      on_fail_(std::move(on_fail)),
      limits_(limits) {}

std::shared_ptr<Handle> FrameMatcher::Send(const FrameHeader& header,
                                           absl::Span<const std::byte> payload) {
  return Enqueue(SendOp{header, payload, nullptr, /*crc_known=*/false});
}

std::shared_ptr<Handle> FrameMatcher::SendWithCrc(const FrameHeader& header,
                                                  absl::Span<const std::byte> payload,
                                                  uint32_t payload_crc32c) {
  SendOp op{header, payload, nullptr, /*crc_known=*/true};
  op.header.crc32c = payload_crc32c;
  return Enqueue(std::move(op));
}

std::shared_ptr<Handle> FrameMatcher::Enqueue(SendOp op) {
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

std::shared_ptr<RecvHandle> FrameMatcher::Recv(absl::Span<std::byte> buffer) {
  return Post(PostedRecv{buffer, std::make_shared<Completion>(recv_what_), nullptr});
}

std::shared_ptr<RecvHandle> FrameMatcher::RecvAllocated(
    std::shared_ptr<std::vector<std::byte>> out) {
  return Post(PostedRecv{absl::Span<std::byte>(), std::make_shared<Completion>(recv_what_),
                         std::move(out)});
}

std::shared_ptr<RecvHandle> FrameMatcher::RecvPieces(uint64_t max_bytes,
                                                     std::shared_ptr<PieceSink> sink) {
  PostedRecv recv{absl::Span<std::byte>(), std::make_shared<Completion>(recv_what_), nullptr};
  recv.sink = std::move(sink);
  recv.sink_max_bytes = max_bytes;
  return Post(std::move(recv));
}

std::shared_ptr<RecvHandle> FrameMatcher::Post(PostedRecv recv) {
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
    unexpected_bytes_ -= message.header.length;
  }
  DeliverUnexpected(std::move(message), std::move(recv));
  return completion;
}

bool FrameMatcher::FitBuffer(const FrameHeader& header, PostedRecv& recv) {
  if (recv.allocated != nullptr) {
    try {
      recv.allocated->resize(header.length);
    } catch (const std::bad_alloc&) {
      const absl::Status error = AllocationFailed(header);
      Fail(error);
      recv.completion->Complete(error);
      return false;
    }
    recv.buffer = absl::MakeSpan(*recv.allocated);
  }
  const uint64_t room = recv.sink != nullptr ? recv.sink_max_bytes : recv.buffer.size();
  if (header.length <= room) return true;
  const absl::Status error = absl::InvalidArgumentError(absl::StrFormat(
      "%s: message of %d bytes (sequence %d chunk %d) is longer than the posted buffer of %d "
      "bytes",
      *describe_, header.length, header.sequence, header.chunk, room));
  // Sticky first, so that whoever sees the handle fail also sees the connection's status.
  Fail(error);
  recv.completion->Complete(error);
  return false;
}

absl::Status FrameMatcher::AllocationFailed(const FrameHeader& header) const {
  return absl::ResourceExhaustedError(
      absl::StrFormat("%s: cannot allocate %d bytes for a message (sequence %d chunk %d)",
                      *describe_, header.length, header.sequence, header.chunk));
}

void FrameMatcher::DeliverUnexpected(Unexpected message, PostedRecv recv) {
  if (!FitBuffer(message.header, recv)) return;
  if (recv.sink != nullptr) {
    // Checked whole when it arrived; handed over in pieces as a streamed payload would be.
    for (uint64_t done = 0; done < message.header.length; done += kUnexpectedPieceBytes) {
      const size_t piece = std::min<uint64_t>(kUnexpectedPieceBytes, message.header.length - done);
      recv.sink->Consume(done, absl::MakeConstSpan(message.payload.get() + done, piece));
    }
  } else if (message.header.length > 0) {
    std::memcpy(recv.buffer.data(), message.payload.get(), message.header.length);
  }
  recv.completion->Complete(absl::OkStatus(), &message.header);
}

bool FrameMatcher::TakeSends(size_t max_ops, size_t max_payload_bytes, std::vector<SendOp>* batch) {
  batch->clear();
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !send_queue_.empty() || !status_.ok();
  };
  mu_.Await(absl::Condition(&ready));
  if (!status_.ok()) return false;  // Fail() completed the queue
  size_t bytes = 0;
  while (!send_queue_.empty() && batch->size() < max_ops &&
         (batch->empty() || bytes + send_queue_.front().payload.size() <= max_payload_bytes)) {
    bytes += send_queue_.front().payload.size();
    batch->push_back(std::move(send_queue_.front()));
    send_queue_.pop_front();
  }
  return true;
}

std::optional<FrameMatcher::Arrival> FrameMatcher::Claim(const FrameHeader& header,
                                                         absl::Duration unexpected_wait) {
  if (header.length > limits_.max_frame_bytes) {
    Fail(absl::InvalidArgumentError(absl::StrFormat(
        "%s: frame header announces %d payload bytes (sequence %d chunk %d), more than the %d "
        "bytes a frame may carry",
        *describe_, header.length, header.sequence, header.chunk, limits_.max_frame_bytes)));
    return std::nullopt;
  }
  PostedRecv recv;
  Arrival arrival;
  arrival.header_ = header;
  {
    absl::MutexLock lock(&mu_);
    auto posted_or_failed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !posted_.empty() || !status_.ok();
    };
    if (header.length > 0 && unexpected_.empty()) {
      mu_.AwaitWithTimeout(absl::Condition(&posted_or_failed), unexpected_wait);
    }
    if (!status_.ok()) return std::nullopt;
    arrival.corrupt_ = std::exchange(corrupt_next_, false);
    if (!posted_.empty()) {
      recv = std::move(posted_.front());
      posted_.pop_front();
    }
  }
  if (recv.completion == nullptr) {
    if (!ClaimUnexpected(header, arrival)) return std::nullopt;
    return arrival;
  }
  // Zero copy: the payload goes straight into the caller's buffer.
  if (!FitBuffer(header, recv)) return std::nullopt;
  arrival.completion_ = std::move(recv.completion);
  arrival.data_ = recv.buffer.data();
  arrival.sink_ = std::move(recv.sink);
  return arrival;
}

bool FrameMatcher::ClaimUnexpected(const FrameHeader& header, Arrival& arrival) {
  uint64_t queued = 0;
  {
    absl::MutexLock lock(&mu_);
    queued = unexpected_bytes_;
  }
  // Only this (the receiver) thread adds to unexpected_bytes_, so the check cannot go stale.
  if (queued > limits_.max_unexpected_bytes ||
      header.length > limits_.max_unexpected_bytes - queued) {
    Fail(absl::ResourceExhaustedError(absl::StrFormat(
        "%s: %d bytes of messages arrived before their receives were posted and a further %d "
        "(sequence %d chunk %d) would exceed the %d bytes buffered per connection; the peer is "
        "sending far ahead of this rank",
        *describe_, queued, header.length, header.sequence, header.chunk,
        limits_.max_unexpected_bytes)));
    return false;
  }
  arrival.unexpected_.reset(new (std::nothrow) std::byte[header.length]);
  if (arrival.unexpected_ == nullptr) {
    Fail(AllocationFailed(header));
    return false;
  }
  arrival.data_ = arrival.unexpected_.get();
  return true;
}

void FrameMatcher::Deliver(Arrival arrival) {
  if (arrival.completion_ != nullptr) {
    arrival.completion_->Complete(absl::OkStatus(), &arrival.header_);
    return;
  }
  Unexpected message{arrival.header_, std::move(arrival.unexpected_)};
  PostedRecv recv;
  {
    absl::MutexLock lock(&mu_);
    if (!status_.ok()) return;
    if (posted_.empty()) {
      unexpected_bytes_ += message.header.length;
      unexpected_.push_back(std::move(message));
      return;
    }
    // A receive was posted while the payload arrived: it is the one this message belongs to.
    recv = std::move(posted_.front());
    posted_.pop_front();
  }
  DeliverUnexpected(std::move(message), std::move(recv));
}

void FrameMatcher::FailArrival(Arrival arrival, absl::Status error) {
  Fail(error);
  if (arrival.completion_ != nullptr) arrival.completion_->Complete(std::move(error));
}

void FrameMatcher::DropArrival(Arrival arrival) {
  if (arrival.completion_ != nullptr) arrival.completion_->Complete(status());
}

void FrameMatcher::Fail(absl::Status reason) {
  std::deque<SendOp> sends;
  std::deque<PostedRecv> recvs;
  {
    absl::MutexLock lock(&mu_);
    if (!status_.ok()) return;
    status_ = std::move(reason);
    sends.swap(send_queue_);
    recvs.swap(posted_);
    unexpected_.clear();
    unexpected_bytes_ = 0;
    failed_.store(true, std::memory_order_release);
  }
  if (on_fail_) on_fail_();
  const absl::Status sticky = status();
  for (SendOp& op : sends) op.completion->Complete(sticky);
  for (PostedRecv& r : recvs) r.completion->Complete(sticky);
}

absl::Status FrameMatcher::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void FrameMatcher::CorruptNextReceiveForTesting() {
  absl::MutexLock lock(&mu_);
  corrupt_next_ = true;
}

}  // namespace crosslink::collectives::transport_internal
