#include "inproc_connection.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/transport/crc32c.h"
#include "crosslink/collectives/transport/frame.h"

namespace crosslink::collectives::inproc_internal {

InProcConnection::~InProcConnection() {
  Close(absl::UnavailableError(absl::StrCat(Describe(), ": connection destroyed")));
}

std::shared_ptr<Handle> InProcConnection::Send(const FrameHeader& header,
                                               absl::Span<const std::byte> payload) {
  return SendFrame(header, payload, Crc32c(payload));  // on the sender's bytes, as the wire would
}

std::shared_ptr<Handle> InProcConnection::SendWithCrc(const FrameHeader& header,
                                                      absl::Span<const std::byte> payload,
                                                      uint32_t payload_crc32c) {
  return SendFrame(header, payload, payload_crc32c);
}

std::shared_ptr<Handle> InProcConnection::SendFrame(const FrameHeader& header_in,
                                                    absl::Span<const std::byte> payload,
                                                    uint32_t crc32c) {
  Channel& ch = *channel_;
  const int to = 1 - side_;
  FrameHeader header = header_in;
  header.job_id = ch.job_id;
  header.length = payload.size();
  header.crc32c = crc32c;
  PostedRecv recv;
  bool corrupt = false;
  {
    absl::MutexLock lock(&ch.mu);
    if (!ch.end[side_].status.ok()) return MakeCompleted(ch.end[side_].status, ch.send_what[side_]);
    Inbound& in = ch.end[to];
    if (in.posted.empty()) {
      // Nobody waits: keep a copy so the sender's buffer is free at once, as over TCP.
      in.unexpected.push_back(
          UnexpectedMessage{header, std::vector<std::byte>(payload.begin(), payload.end())});
      return MakeCompleted(absl::OkStatus(), ch.send_what[side_]);
    }
    recv = std::move(in.posted.front());
    in.posted.pop_front();
    corrupt = std::exchange(in.corrupt_next, false);
  }
  return MakeCompleted(Deliver(to, header, payload, recv, corrupt), ch.send_what[side_]);
}

std::shared_ptr<RecvHandle> InProcConnection::Recv(absl::Span<std::byte> buffer) {
  return Post(
      PostedRecv{buffer, std::make_shared<Completion>(channel_->recv_what[side_]), nullptr});
}

std::shared_ptr<RecvHandle> InProcConnection::RecvAllocated(
    std::shared_ptr<std::vector<std::byte>> out) {
  return Post(PostedRecv{absl::Span<std::byte>(),
                         std::make_shared<Completion>(channel_->recv_what[side_]), std::move(out)});
}

std::shared_ptr<RecvHandle> InProcConnection::Post(PostedRecv recv) {
  Channel& ch = *channel_;
  std::shared_ptr<Completion> completion = recv.completion;
  UnexpectedMessage message;
  bool corrupt = false;
  {
    absl::MutexLock lock(&ch.mu);
    Inbound& in = ch.end[side_];
    if (!in.status.ok()) {
      completion->Complete(in.status);
      return completion;
    }
    if (in.unexpected.empty()) {
      in.posted.push_back(std::move(recv));
      return completion;
    }
    message = std::move(in.unexpected.front());
    in.unexpected.pop_front();
    corrupt = std::exchange(in.corrupt_next, false);
  }
  // A failure reaches the caller through `completion`; the returned status is the sender's.
  Deliver(side_, message.header, message.payload, recv, corrupt).IgnoreError();
  return completion;
}

absl::Status InProcConnection::Deliver(int to, const FrameHeader& header,
                                       absl::Span<const std::byte> payload, PostedRecv& recv,
                                       bool corrupt) {
  const std::string& where = *channel_->describe[to];
  if (recv.allocated != nullptr) {
    recv.allocated->resize(header.length);
    recv.buffer = absl::MakeSpan(*recv.allocated);
  }
  absl::Status error;
  if (header.length > recv.buffer.size()) {
    error = absl::InvalidArgumentError(absl::StrFormat(
        "%s: message of %d bytes (sequence %d chunk %d) is longer than the posted buffer of %d "
        "bytes",
        where, header.length, header.sequence, header.chunk, recv.buffer.size()));
  } else {
    if (!payload.empty()) std::memcpy(recv.buffer.data(), payload.data(), payload.size());
    uint32_t crc = 0;
    if (corrupt && !payload.empty()) {
      recv.buffer[0] ^= std::byte{0x01};
      crc = Crc32c(recv.buffer.first(payload.size()));
    } else {
      crc = Crc32c(recv.buffer.first(payload.size()));
      if (corrupt) crc ^= 1;
    }
    error = CheckPayloadCrc(header, crc, where);
  }
  if (error.ok()) {
    recv.completion->Complete(absl::OkStatus(), &header);
    return absl::OkStatus();
  }
  // The connection fails first, so that whoever sees the receive fail also sees its status (the
  // receiver may wait on another thread than this sender's, e.g. behind a LinkEmulator).
  Fail(to, error);
  recv.completion->Complete(error);
  absl::MutexLock lock(&channel_->mu);
  return channel_->end[1 - to].status;
}

void InProcConnection::Fail(int side, absl::Status reason) {
  Channel& ch = *channel_;
  std::vector<std::pair<std::shared_ptr<Completion>, absl::Status>> to_fail;
  {
    absl::MutexLock lock(&ch.mu);
    for (int s : {side, 1 - side}) {
      Inbound& in = ch.end[s];
      if (!in.status.ok()) continue;
      in.status = s == side ? reason
                            : absl::UnavailableError(
                                  absl::StrCat(*ch.describe[s], ": peer rank ", ch.rank[side],
                                               " closed the connection (", reason.message(), ")"));
      for (PostedRecv& r : in.posted) to_fail.emplace_back(std::move(r.completion), in.status);
      in.posted.clear();
      in.unexpected.clear();
    }
  }
  for (auto& [completion, status] : to_fail) completion->Complete(status);
}

void InProcConnection::Close(absl::Status reason) {
  if (reason.ok()) reason = absl::UnavailableError(absl::StrCat(Describe(), ": closed"));
  Fail(side_, std::move(reason));
}

absl::Status InProcConnection::status() const {
  absl::MutexLock lock(&channel_->mu);
  return channel_->end[side_].status;
}

void InProcConnection::CorruptNextReceiveForTesting() {
  absl::MutexLock lock(&channel_->mu);
  channel_->end[side_].corrupt_next = true;
}

std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> MakePair(int rank_a, int rank_b,
                                                                             uint64_t job_id) {
  auto ch = std::make_shared<Channel>();
  ch->job_id = job_id;
  ch->rank[0] = rank_a;
  ch->rank[1] = rank_b;
  for (int s : {0, 1}) {
    const std::string d =
        absl::StrFormat("rank %d -> rank %d (inproc)", ch->rank[s], ch->rank[1 - s]);
    ch->describe[s] = std::make_shared<const std::string>(d);
    ch->send_what[s] = std::make_shared<const std::string>(absl::StrCat("send on ", d));
    ch->recv_what[s] = std::make_shared<const std::string>(absl::StrCat("recv on ", d));
  }
  return {std::make_unique<InProcConnection>(ch, 0), std::make_unique<InProcConnection>(ch, 1)};
}

}  // namespace crosslink::collectives::inproc_internal
