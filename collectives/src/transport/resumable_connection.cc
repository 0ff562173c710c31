#include "crosslink/collectives/transport/resumable_connection.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace crosslink::collectives {

// One message sent by the user, kept until the peer has it.
struct ResumableConnection::Outgoing {
  uint64_t index = 0;  // 1-based position in this direction's stream
  FrameHeader header;
  std::vector<std::byte> payload;
  std::optional<uint32_t> crc;
  // Under Core::mu: the latest transmission (nullptr until the first), whether the message is
  // done for its sender (handed to a connection that did not break, or acknowledged), and
  // whether it was transmitted at least once (a later transmission is a resend).
  std::shared_ptr<Handle> inner;
  bool done = false;
  bool sent_once = false;
};

struct ResumableConnection::Core {
  absl::Mutex mu;
  absl::Status final ABSL_GUARDED_BY(mu);  // the sticky error; OK while usable
  uint64_t sent ABSL_GUARDED_BY(mu) = 0;   // messages the user sent
  std::deque<std::shared_ptr<Outgoing>> unacked ABSL_GUARDED_BY(mu);
  // Acknowledged copies whose latest transmission the inner connection has not finished with:
  // it borrows the payload until then (the peer can acknowledge bytes before the sender thread
  // has returned from writing them, or while a broken connection still holds them queued).
  std::vector<std::shared_ptr<Outgoing>> retired ABSL_GUARDED_BY(mu);
};

namespace {

// Drops the copies of messages 1..acked (the peer has them), keeping each alive in
// core.retired until the inner connection is done with its transmission; prunes retired.
void DropAcked(ResumableConnection::Core& core, uint64_t acked)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(core.mu) {
  while (!core.unacked.empty() && core.unacked.front()->index <= acked) {
    core.unacked.front()->done = true;
    core.retired.push_back(std::move(core.unacked.front()));
    core.unacked.pop_front();
  }
  std::erase_if(core.retired, [](const std::shared_ptr<ResumableConnection::Outgoing>& msg) {
    return msg->inner == nullptr || msg->inner->Done();
  });
}

bool IsControl(const FrameHeader& h) { return h.chunk == kResumeControlChunk && h.length == 0; }

FrameHeader Control(uint32_t tag, uint64_t count) {
  FrameHeader h;
  h.chunk = kResumeControlChunk;
  h.tag = tag;
  h.sequence = count;
  return h;
}

// The user's handle on a send: done once the message reached a connection that did not break
// before handing it on, or the peer acknowledged it; a break in between only delays it.
class SendHandle final : public Handle {
 public:
  using Core = ResumableConnection::Core;
  using Outgoing = ResumableConnection::Outgoing;
  SendHandle(std::shared_ptr<Core> core, std::shared_ptr<Outgoing> msg,
             std::shared_ptr<const std::string> what)
      : core_(std::move(core)), msg_(std::move(msg)), what_(std::move(what)) {}

  absl::Status Wait(absl::Time deadline) override {
    std::shared_ptr<Handle> seen;  // a transmission that failed: wait for the next one
    for (;;) {
      std::shared_ptr<Handle> h;
      {
        absl::MutexLock lock(&core_->mu);
        auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_->mu) {
          return msg_->done || !core_->final.ok() ||
                 (msg_->inner != nullptr && msg_->inner != seen);
        };
        if (!core_->mu.AwaitWithDeadline(absl::Condition(&ready), deadline)) {
          return absl::DeadlineExceededError(
              absl::StrCat(*what_, ": not complete by the deadline (its link is being resumed)"));
        }
        if (msg_->done) return absl::OkStatus();
        if (!core_->final.ok()) return core_->final;
        h = msg_->inner;
      }
      absl::Status s = h->Wait(deadline);
      if (s.ok()) {
        absl::MutexLock lock(&core_->mu);
        msg_->done = true;
        return s;
      }
      if (s.code() == absl::StatusCode::kDeadlineExceeded && absl::Now() >= deadline) return s;
      seen = h;
    }
  }

  bool Done() const override {
    absl::MutexLock lock(&core_->mu);
    if (msg_->done || !core_->final.ok()) return true;
    return msg_->inner != nullptr && msg_->inner->Done() &&
           msg_->inner->Wait(absl::InfinitePast()).ok();
  }

 private:
  std::shared_ptr<Core> core_;
  std::shared_ptr<Outgoing> msg_;
  std::shared_ptr<const std::string> what_;
};

}  // namespace

ResumableConnection::ResumableConnection(std::unique_ptr<Connection> inner, Reconnect reconnect,
                                         ResumableOptions options)
    : reconnect_(std::move(reconnect)),
      options_(options),
      describe_(absl::StrCat(inner->Describe(), " (resumable)")),
      recv_what_(std::make_shared<const std::string>(absl::StrCat("recv on ", describe_))),
      core_(std::make_shared<Core>()),
      inner_(std::move(inner)) {
  pump_ = std::thread([this] { PumpLoop(); });
}

ResumableConnection::~ResumableConnection() {
  Close(absl::UnavailableError(absl::StrCat(describe_, ": connection destroyed")));
  pump_.join();
}

std::shared_ptr<Handle> ResumableConnection::Send(const FrameHeader& header,
                                                  absl::Span<const std::byte> payload) {
  return Enqueue(header, payload, std::nullopt);
}

std::shared_ptr<Handle> ResumableConnection::SendWithCrc(const FrameHeader& header,
                                                         absl::Span<const std::byte> payload,
                                                         uint32_t payload_crc32c) {
  return Enqueue(header, payload, payload_crc32c);
}

std::shared_ptr<Handle> ResumableConnection::Enqueue(const FrameHeader& header,
                                                     absl::Span<const std::byte> payload,
                                                     std::optional<uint32_t> crc) {
  auto what = std::make_shared<const std::string>(absl::StrCat("send on ", describe_));
  if (header.chunk == kResumeControlChunk) {
    return MakeCompleted(absl::InvalidArgumentError(absl::StrCat(
                             describe_, ": chunk 0xFFFFFFFE is reserved for control frames")),
                         what);
  }
  // The copy is what makes a resend possible after the caller reused its buffer; emulated
  // crosslinks run at Gbit/s, so a memcpy is noise next to them.
  auto msg = std::make_shared<Outgoing>();
  msg->header = header;
  msg->payload.assign(payload.begin(), payload.end());
  msg->crc = crc;
  absl::MutexLock lock(&core_->mu);
  if (!core_->final.ok()) return MakeCompleted(core_->final, what);
  msg->index = ++core_->sent;
  core_->unacked.push_back(msg);
  // Sent under the lock, so that a resume's resends and new sends keep the stream's order.
  if (inner_ != nullptr) {
    msg->inner = crc ? inner_->SendWithCrc(msg->header, msg->payload, *crc)
                     : inner_->Send(msg->header, msg->payload);
    msg->sent_once = true;
  }
  return std::make_shared<SendHandle>(core_, std::move(msg), std::move(what));
}

std::shared_ptr<RecvHandle> ResumableConnection::Recv(absl::Span<std::byte> buffer) {
  return Post(PostedRecv{buffer, nullptr, std::make_shared<Completion>(recv_what_)});
}

std::shared_ptr<RecvHandle> ResumableConnection::RecvAllocated(
    std::shared_ptr<std::vector<std::byte>> out) {
  return Post(PostedRecv{absl::Span<std::byte>(), std::move(out),
                         std::make_shared<Completion>(recv_what_)});
}

std::shared_ptr<RecvHandle> ResumableConnection::Post(PostedRecv recv) {
  std::shared_ptr<Completion> completion = recv.completion;
  Held message;
  {
    absl::MutexLock lock(&core_->mu);
    if (!core_->final.ok()) {
      completion->Complete(core_->final);
      return completion;
    }
    if (held_.empty()) {
      posted_.push_back(std::move(recv));
      return completion;
    }
    message = std::move(held_.front());
    held_.pop_front();
    held_bytes_ -= message.payload.size();
  }
  DeliverHeld(std::move(message), std::move(recv));
  return completion;
}

void ResumableConnection::DeliverHeld(Held message, PostedRecv recv) {
  if (recv.allocated != nullptr) {
    *recv.allocated = std::move(message.payload);
  } else if (message.header.length > recv.buffer.size()) {
    const absl::Status error = absl::InvalidArgumentError(absl::StrFormat(
        "%s: message of %d bytes (sequence %d chunk %d) is longer than the posted buffer of %d "
        "bytes",
        describe_, message.header.length, message.header.sequence, message.header.chunk,
        recv.buffer.size()));
    FailForGood(error);
    recv.completion->Complete(error);
    return;
  } else if (!message.payload.empty()) {
    std::memcpy(recv.buffer.data(), message.payload.data(), message.payload.size());
  }
  recv.completion->Complete(absl::OkStatus(), &message.header);
}

void ResumableConnection::PumpLoop() {
  for (;;) {
    std::shared_ptr<Connection> inner;
    PostedRecv target;  // the user's receive posted to the inner connection, if any
    auto scratch = std::make_shared<std::vector<std::byte>>();
    std::shared_ptr<RecvHandle> handle;
    {
      absl::MutexLock lock(&core_->mu);
      if (!core_->final.ok()) return;
      // Resume gives up without a connection when Close begins while it reconnects (closing_ is
      // set before Close fails the connection for good): nothing is left to read.
      if (inner_ == nullptr) return;
      inner = inner_;
      if (!posted_.empty() && posted_.front().allocated == nullptr) {
        target = posted_.front();
        handle = inner->Recv(target.buffer);
      } else {
        handle = inner->RecvAllocated(scratch);
      }
    }
    const absl::Status s = handle->Wait(absl::InfiniteFuture());
    if (!s.ok()) {
      {
        absl::MutexLock lock(&core_->mu);
        if (!core_->final.ok()) return;
        if (closing_) {  // Close is saying goodbye; this end is going away, not resuming
          goodbye_done_ = true;
          return;
        }
      }
      if (s.code() == absl::StatusCode::kUnavailable) {
        Resume(std::move(inner), s);
        continue;
      }
      FailForGood(s);
      return;
    }
    const FrameHeader header = handle->header();
    if (IsControl(header)) {
      // Carries no payload: `target`'s buffer is untouched and is posted again.
      if (!OnControl(header)) return;
      continue;
    }
    PostedRecv recv;
    bool into_target = false;
    bool copy_held = false;
    absl::Status too_much;
    {
      absl::MutexLock lock(&core_->mu);
      if (!core_->final.ok()) return;
      ++received_;
      if (target.completion != nullptr) {
        recv = std::move(posted_.front());  // only this thread pops posted_
        posted_.pop_front();
        into_target = true;
      } else if (!posted_.empty()) {
        recv = std::move(posted_.front());
        posted_.pop_front();
        copy_held = true;
      } else if (scratch->size() > options_.max_held_bytes - held_bytes_) {
        too_much = absl::ResourceExhaustedError(absl::StrFormat(
            "%s: %d bytes of messages arrived before their receives were posted and a further "
            "%d (sequence %d chunk %d) would exceed the %d bytes held per connection; the peer "
            "is sending far ahead of this rank",
            describe_, held_bytes_, scratch->size(), header.sequence, header.chunk,
            options_.max_held_bytes));
      } else {
        held_bytes_ += scratch->size();
        held_.push_back(Held{header, std::move(*scratch)});
      }
      if (too_much.ok() && inner_ == inner) inner->Send(Control(kAckTag, received_), {});
    }
    if (!too_much.ok()) {
      FailForGood(std::move(too_much));
      return;
    }
    if (into_target) {
      recv.completion->Complete(absl::OkStatus(), &header);
    } else if (copy_held) {
      DeliverHeld(Held{header, std::move(*scratch)}, std::move(recv));
    }
  }
}

bool ResumableConnection::OnControl(const FrameHeader& header) {
  if (header.tag == kAckTag) {
    absl::Status forged;
    {
      absl::MutexLock lock(&core_->mu);
      if (header.sequence > core_->sent) {
        // Dropping copies for messages never sent would lose ones a later resume must resend.
        forged = absl::DataLossError(
            absl::StrFormat("%s: the peer acknowledged %d messages, but only %d were sent",
                            describe_, header.sequence, core_->sent));
      }
    }
    if (!forged.ok()) {
      FailForGood(std::move(forged));
      return false;
    }
    absl::MutexLock lock(&core_->mu);
    DropAcked(*core_, header.sequence);
    return true;
  }
  if (header.tag == kGoodbyeTag && header.sequence == 1) {  // the peer read our goodbye
    absl::MutexLock lock(&core_->mu);
    goodbye_done_ = true;
    return false;
  }
  if (header.tag == kGoodbyeTag) {
    // Echo it, so that the peer's Close knows it was heard before it shuts the connection down
    // (a transport may drop what the peer has not read yet when it closes).
    std::shared_ptr<Connection> inner;
    {
      absl::MutexLock lock(&core_->mu);
      inner = inner_;
    }
    if (inner != nullptr) {
      inner->Send(Control(kGoodbyeTag, 1), {})
          ->Wait(absl::Now() + options_.goodbye_wait)
          .IgnoreError();
    }
    FailForGood(
        absl::UnavailableError(absl::StrCat(describe_, ": the peer closed the connection")));
    return false;
  }
  FailForGood(absl::DataLossError(absl::StrFormat(
      "%s: unexpected control frame (tag %d) outside a resume handshake", describe_, header.tag)));
  return false;
}

void ResumableConnection::Resume(std::shared_ptr<Connection> broken, const absl::Status& cause) {
  {
    absl::MutexLock lock(&core_->mu);
    if (!core_->final.ok()) return;
    if (inner_ == broken) inner_ = nullptr;  // sends now only queue, for the resend below
  }
  broken->Close(cause);
  broken.reset();
  std::fprintf(stderr, "[crosslink] %s broke (%s); resuming\n", describe_.c_str(),
               std::string(cause.message()).c_str());
  const absl::Time give_up = absl::Now() + options_.resume_timeout;
  absl::Status last = cause;
  for (int attempt = 1;; ++attempt) {
    {
      absl::MutexLock lock(&core_->mu);
      if (!core_->final.ok() || closing_) return;
    }
    const absl::Time now = absl::Now();
    if (now >= give_up) {
      FailForGood(absl::DeadlineExceededError(absl::StrCat(
          describe_, ": broke (", cause.message(), ") and could not be resumed within ",
          absl::FormatDuration(options_.resume_timeout), " (", attempt - 1,
          " attempts); last attempt: ", last.message())));
      return;
    }
    absl::StatusOr<std::unique_ptr<Connection>> made =
        reconnect_(std::min(give_up, now + options_.attempt_slice));
    if (!made.ok()) {
      last = made.status();
      if (last.code() != absl::StatusCode::kUnavailable &&
          last.code() != absl::StatusCode::kDeadlineExceeded) {
        FailForGood(absl::Status(last.code(),
                                 absl::StrCat(describe_, ": cannot resume: ", last.message())));
        return;
      }
      // A reconnect that fails at once must not spin; one that waited has waited already.
      if (absl::Now() - now < absl::Milliseconds(10)) absl::SleepFor(absl::Milliseconds(10));
      continue;
    }
    std::shared_ptr<Connection> fresh = *std::move(made);
    uint64_t received = 0;
    {
      absl::MutexLock lock(&core_->mu);
      if (!core_->final.ok()) {
        fresh->Close(core_->final);
        return;
      }
      handshaking_ = fresh;
      received = received_;
    }
    // Both ends say how many messages they hold; each then resends what the other lacks.
    fresh->Send(Control(kResumeTag, received), {});
    auto first = std::make_shared<std::vector<std::byte>>();
    std::shared_ptr<RecvHandle> hello = fresh->RecvAllocated(first);
    absl::Status s = hello->Wait(std::min(
        give_up, absl::Now() + std::max(options_.handshake_timeout, options_.attempt_slice)));
    if (s.ok() && !(IsControl(hello->header()) && hello->header().tag == kResumeTag)) {
      s = absl::DataLossError(absl::StrFormat(
          "%s: the first frame on the new connection is not a resume frame (chunk %d tag %d)",
          describe_, hello->header().chunk, hello->header().tag));
    }
    if (!s.ok()) {
      {
        absl::MutexLock lock(&core_->mu);
        handshaking_ = nullptr;
      }
      fresh->Close(s);
      last = s;
      if (s.code() == absl::StatusCode::kUnavailable ||
          s.code() == absl::StatusCode::kDeadlineExceeded) {
        continue;
      }
      FailForGood(
          absl::Status(s.code(), absl::StrCat(describe_, ": cannot resume: ", s.message())));
      return;
    }
    const uint64_t peer_has = hello->header().sequence;
    int64_t resent = 0;
    size_t pending = 0;
    absl::Status mismatch;
    {
      absl::MutexLock lock(&core_->mu);
      handshaking_ = nullptr;
      if (!core_->final.ok()) {
        fresh->Close(core_->final);
        return;
      }
      const uint64_t oldest_kept =
          core_->unacked.empty() ? core_->sent + 1 : core_->unacked.front()->index;
      if (peer_has > core_->sent || peer_has + 1 < oldest_kept) {
        mismatch = absl::DataLossError(absl::StrFormat(
            "%s: resume: the peer has received %d messages, but %d were sent and copies are "
            "kept from message %d",
            describe_, peer_has, core_->sent, oldest_kept));
      } else {
        DropAcked(*core_, peer_has);
        for (const std::shared_ptr<Outgoing>& msg : core_->unacked) {
          msg->inner = msg->crc ? fresh->SendWithCrc(msg->header, msg->payload, *msg->crc)
                                : fresh->Send(msg->header, msg->payload);
          if (msg->sent_once) ++resent;
          msg->sent_once = true;
        }
        pending = core_->unacked.size();
        resent_ += resent;
        ++resumes_;
        inner_ = fresh;
      }
    }
    if (!mismatch.ok()) {
      fresh->Close(mismatch);
      FailForGood(mismatch);
      return;
    }
    std::fputs(absl::StrFormat("[crosslink] %s resumed over %s after %d attempt(s): the peer had "
                               "%d messages; %d sent again, %d sent for the first time\n",
                               describe_, fresh->Describe(), attempt, peer_has, resent,
                               static_cast<int64_t>(pending) - resent)
                   .c_str(),
               stderr);
    return;
  }
}

void ResumableConnection::FailForGood(absl::Status reason) {
  std::deque<PostedRecv> posted;
  std::shared_ptr<Connection> inner;
  std::shared_ptr<Connection> handshaking;
  {
    absl::MutexLock lock(&core_->mu);
    if (!core_->final.ok()) return;
    core_->final = reason;
    posted.swap(posted_);
    held_.clear();
    held_bytes_ = 0;
    inner = std::move(inner_);
    handshaking = std::move(handshaking_);
  }
  if (inner != nullptr) inner->Close(reason);
  if (handshaking != nullptr) handshaking->Close(reason);
  for (PostedRecv& r : posted) r.completion->Complete(reason);
}

void ResumableConnection::Close(absl::Status reason) {
  if (reason.ok()) reason = absl::UnavailableError(absl::StrCat(describe_, ": closed"));
  std::shared_ptr<Connection> inner;
  {
    absl::MutexLock lock(&core_->mu);
    if (!core_->final.ok() || closing_) return;
    closing_ = true;
    inner = inner_;
  }
  if (inner != nullptr) {
    // Tell the peer this end is gone for good, so it fails rather than waits to resume, and give
    // it a moment to echo that it heard (the pump then stops).
    inner->Send(Control(kGoodbyeTag, 0), {});
    absl::MutexLock lock(&core_->mu);
    auto heard = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_->mu) {
      return goodbye_done_ || !core_->final.ok();
    };
    core_->mu.AwaitWithTimeout(absl::Condition(&heard), options_.goodbye_wait);
  }
  FailForGood(std::move(reason));
}

absl::Status ResumableConnection::status() const {
  absl::MutexLock lock(&core_->mu);
  return core_->final;
}

void ResumableConnection::CorruptNextReceiveForTesting() {
  std::shared_ptr<Connection> inner;
  {
    absl::MutexLock lock(&core_->mu);
    inner = inner_;
  }
  if (inner != nullptr) collectives::CorruptNextReceiveForTesting(*inner);
}

ResumableCounters ResumableConnection::counters() const {
  absl::MutexLock lock(&core_->mu);
  ResumableCounters c;
  c.resumes = resumes_;
  c.messages_resent = resent_;
  c.messages_unacked = static_cast<int64_t>(core_->unacked.size());
  return c;
}

}  // namespace crosslink::collectives
