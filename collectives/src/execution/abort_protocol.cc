#include "abort_protocol.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_format.h"
#include "crosslink/collectives/executor.h"

namespace crosslink::collectives::internal {
namespace {

constexpr uint32_t kRankMask = 0x3FFF;

}  // namespace

uint32_t EncodeAbortTag(const AbortTag& tag) {
  return (static_cast<uint32_t>(tag.code) & 0xF) << 28 |
         (static_cast<uint32_t>(tag.origin) & kRankMask) << 14 |
         (static_cast<uint32_t>(tag.culprit) & kRankMask);
}

AbortTag DecodeAbortTag(uint32_t tag) {
  AbortTag out;
  out.code = static_cast<absl::StatusCode>(tag >> 28);
  out.origin = static_cast<int>((tag >> 14) & kRankMask);
  out.culprit = static_cast<int>(tag & kRankMask);
  return out;
}

void AbortProtocol::Fail(absl::StatusCode code, int culprit, std::string detail, int wait_peer) {
  if (failed()) return;
  failure_.code = code;
  failure_.origin = rank_;
  failure_.culprit = culprit;
  failure_.wait_peer = wait_peer;
  failure_.detail = std::move(detail);
}

bool AbortProtocol::BlamesForTimeout(const FrameHeader& header, int rank) {
  const AbortTag tag = DecodeAbortTag(header.tag);
  return tag.code == absl::StatusCode::kDeadlineExceeded && tag.culprit == rank;
}

void AbortProtocol::FailFromAbort(int peer, const FrameHeader& h) {
  if (failed()) return;
  const AbortTag tag = DecodeAbortTag(h.tag);
  failure_.code = tag.code == absl::StatusCode::kOk ? absl::StatusCode::kAborted : tag.code;
  failure_.origin = tag.origin;
  failure_.culprit = tag.culprit;
  failure_.wait_peer = peer;
  const int origin = names_(tag.origin);
  const int culprit = names_(tag.culprit);
  std::string what;
  switch (failure_.code) {
    case absl::StatusCode::kInvalidArgument:
      what = absl::StrFormat(
          "rank %d found that rank %d's collective arguments disagree with its "
          "own",
          origin, culprit);
      break;
    case absl::StatusCode::kDeadlineExceeded:
      what = absl::StrFormat("rank %d gave up waiting for rank %d", origin, culprit);
      break;
    case absl::StatusCode::kUnavailable:
      what = absl::StrFormat("rank %d lost its connection to rank %d", origin, culprit);
      break;
    case absl::StatusCode::kDataLoss:
      what = absl::StrFormat("rank %d received a corrupted frame from rank %d", origin, culprit);
      break;
    default:
      what = absl::StrFormat("rank %d failed (%s) because of rank %d", origin,
                             absl::StatusCodeToString(failure_.code), culprit);
  }
  failure_.detail = absl::StrFormat("collective aborted: %s (abort frame of seq %u from rank %d)",
                                    what, h.sequence, names_(peer));
}

void AbortProtocol::Flood(std::vector<int> peers) {
  flood_peers_ = std::move(peers);
  SendAborts();
}

void AbortProtocol::SendAborts() {
  FrameHeader h;
  h.job_id = job_id_;
  h.sequence = sequence_;
  h.chunk = kAbortChunk;
  h.tag = EncodeAbortTag({failure_.code, failure_.origin, failure_.culprit});
  for (int peer : flood_peers_) {
    Connection* conn = connections_[peer];
    if (!conn->status().ok()) continue;
    sends_.push_back(conn->Send(h, {}));
  }
}

void AbortProtocol::Linger(std::map<int, std::vector<std::shared_ptr<RecvHandle>>> owed,
                           size_t frame_bytes, absl::Time deadline) {
  // Which peers still owe us frames: we wait for their abort (they fail too) or their last frame,
  // so that closing our end cannot overtake an abort they are about to read from us.
  const bool timeout = failure_.code == absl::StatusCode::kDeadlineExceeded;
  std::map<int, bool> finished;
  for (auto& [peer, handles] : owed) {
    std::deque<std::shared_ptr<RecvHandle>>& pending = recvs_[peer];
    for (std::shared_ptr<RecvHandle>& h : handles) pending.push_back(std::move(h));
    if (!pending.empty() || (timeout && peer == failure_.wait_peer)) finished[peer] = false;
  }
  if (finished.empty()) return;
  linger_buffer_.resize(frame_bytes);
  while (absl::Now() < deadline) {
    bool all_finished = true;
    std::shared_ptr<RecvHandle> to_wait;
    for (auto& [peer, fin] : finished) {
      if (fin) continue;
      std::deque<std::shared_ptr<RecvHandle>>& pending = recvs_[peer];
      const bool follow = timeout && peer == failure_.wait_peer;
      while (!fin && !pending.empty() && pending.front()->Done()) {
        std::shared_ptr<RecvHandle> h = pending.front();
        pending.pop_front();
        if (!h->Wait(absl::InfiniteFuture()).ok()) {
          fin = true;
          break;
        }
        const FrameHeader& header = h->header();
        if (header.chunk != kAbortChunk) continue;  // data a still-running peer sent earlier
        if (!follow) {
          fin = true;
          break;
        }
        // News from the peer we waited for: whom it waited for. Adopt and pass on a better
        // culprit, so the rank at the root of the wait chain ends up named everywhere.
        const AbortTag tag = DecodeAbortTag(header.tag);
        if (tag.code == absl::StatusCode::kDeadlineExceeded && tag.culprit != rank_ &&
            tag.culprit != failure_.culprit) {
          failure_.culprit = tag.culprit;
          SendAborts();
        }
      }
      if (!fin && pending.empty()) {
        Connection* conn = connections_[peer];
        if (follow && conn->status().ok()) {
          pending.push_back(conn->Recv(absl::Span<std::byte>(linger_buffer_)));
        } else {
          fin = true;
        }
      }
      if (!fin) {
        all_finished = false;
        if (!to_wait) to_wait = pending.front();
      }
    }
    if (all_finished) return;
    (void)to_wait->Wait(std::min(deadline, absl::Now() + absl::Milliseconds(5)));
  }
}

std::string AbortProtocol::Report() const {
  std::string detail = failure_.detail;
  if (failure_.code == absl::StatusCode::kDeadlineExceeded && failure_.origin == rank_ &&
      failure_.culprit != failure_.wait_peer) {
    absl::StrAppendFormat(&detail, "; rank %d was itself waiting for rank %d",
                          names_(failure_.wait_peer), names_(failure_.culprit));
  } else if (failure_.code == absl::StatusCode::kDeadlineExceeded && failure_.origin != rank_) {
    absl::StrAppendFormat(&detail, "; the wait chain ends at rank %d", names_(failure_.culprit));
  }
  return detail;
}

void AbortProtocol::AwaitSent(absl::Time until) const {
  for (const std::shared_ptr<Handle>& h : sends_) (void)h->Wait(until);
}

bool AbortProtocol::Pending(int peer) const {
  const auto it = recvs_.find(peer);
  if (it == recvs_.end()) return false;
  for (const std::shared_ptr<RecvHandle>& h : it->second) {
    if (!h->Done()) return true;
  }
  return false;
}

void AbortProtocol::ReleaseSends(absl::Duration each) const {
  for (const std::shared_ptr<Handle>& h : sends_) {
    if (!h->Done()) (void)h->Wait(absl::Now() + each);
  }
}

void AbortProtocol::ReleaseRecvs(int peer, absl::Duration each) const {
  const auto it = recvs_.find(peer);
  if (it == recvs_.end()) return;
  for (const std::shared_ptr<RecvHandle>& h : it->second) (void)h->Wait(absl::Now() + each);
}

}  // namespace crosslink::collectives::internal
