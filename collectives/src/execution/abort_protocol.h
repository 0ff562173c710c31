// The abort protocol: how a rank that fails a collective tells the other ranks of the plan, so that
// no rank waits for a peer that gave up and every rank names the rank at fault. Internal to the
// collectives library; the executor (executor.cc) owns one AbortProtocol per call and hands it
// the failure it detects or the abort frames it receives. executor.h lists the status codes.
//
// Contract:
// - Abort frame: a header-only frame with chunk kAbortChunk (executor.h), the collective's job
//   id and sequence, and in FrameHeader::tag the status code (4 bits), the rank that detected
//   the failure ("origin", 14 bits) and the rank at fault ("culprit", 14 bits). Ranks on the wire
//   and in Failure are plan ranks (indices into Plan::ranks); only messages name job ranks, via
//   RankNames, so every rank decodes the same frame the same way.
// - First failure wins: Fail and FailFromAbort record nothing once a failure is recorded.
// - Flooding: after a failure the rank sends an abort frame to every peer it sends to in the plan
//   (Flood); a rank that receives one fails with that code (kAborted if the frame carries none)
//   and floods it in turn, so the failure covers the plan's communication graph.
// - Wait chain (kDeadlineExceeded): a rank gives up shortly before the deadline naming the peer
//   it waited for. A rank told that it is the culprit while it is itself still waiting for another
//   peer reports its own wait instead (the executor decides that on receipt, BlamesForTimeout).
//   Linger follows the peer this rank waited for: when that peer's abort names a culprit further
//   down the chain, this rank adopts it and floods again, so the rank at the chain's root ends up
//   named everywhere. Report() appends the chain to the message.
// - Linger also waits for every peer that still owes this rank frames (their abort, or data sent
//   before they failed), so that closing a connection cannot overtake an abort a peer is about to
//   read. It returns when every such peer answered or failed, at the latest at the deadline.
//
// Blocking: Linger blocks until the deadline at most; AwaitSent, ReleaseSends and ReleaseRecvs
// block for the times they are given; the rest does not block. Thread-safety: used by the one
// executor thread. Ownership: borrows the connections for the object's life; owns the abort
// frames it posts and the buffer lingering receives land in, which the transport may use until
// ReleaseSends / ReleaseRecvs return (or the connection is closed), so the object must outlive
// those calls.
#ifndef CROSSLINK_COLLECTIVES_SRC_EXECUTION_ABORT_PROTOCOL_H_
#define CROSSLINK_COLLECTIVES_SRC_EXECUTION_ABORT_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives::internal {

// Names a plan rank in messages: the caller's name for it (ExecuteArgs::rank_names, its rank in
// the job) or, without names, the plan rank itself. Every "rank N" the executor writes goes
// through here. A rank with no name (out of range: a malformed abort frame) keeps its number.
class RankNames {
 public:
  // `names` is empty or has one entry per plan rank; borrowed.
  explicit RankNames(absl::Span<const int> names) : names_(names) {}
  int operator()(int plan_rank) const {
    if (plan_rank < 0 || static_cast<size_t>(plan_rank) >= names_.size()) return plan_rank;
    return names_[static_cast<size_t>(plan_rank)];
  }

 private:
  absl::Span<const int> names_;
};

// FrameHeader::tag of an abort frame. Ranks are plan ranks; 14 bits cover 16383 ranks, more than
// any constellation Crosslink plans for (higher bits are dropped).
struct AbortTag {
  absl::StatusCode code = absl::StatusCode::kOk;
  int origin = -1;   // the rank that detected the failure
  int culprit = -1;  // the rank at fault
};
uint32_t EncodeAbortTag(const AbortTag& tag);
AbortTag DecodeAbortTag(uint32_t tag);

// What went wrong, where it was detected and who is at fault (plan ranks); turned into the
// returned status.
struct Failure {
  absl::StatusCode code = absl::StatusCode::kOk;
  int origin = -1;     // the rank that detected it
  int culprit = -1;    // the rank at fault (a peer, or this rank)
  int wait_peer = -1;  // kDeadlineExceeded: the peer whose news about the culprit we trust
  std::string detail;  // what happened, naming (job) ranks and the step
};

class AbortProtocol {
 public:
  // `rank` is this rank in the plan; `connections[p]` its connection to plan rank p.
  AbortProtocol(int rank, RankNames names, absl::Span<Connection* const> connections,
                uint64_t job_id, uint64_t sequence)
      : rank_(rank),
        names_(names),
        connections_(connections),
        job_id_(job_id),
        sequence_(sequence) {}

  bool failed() const { return failure_.code != absl::StatusCode::kOk; }
  const Failure& failure() const { return failure_; }
  // The failure was detected here, not learnt from an abort frame.
  bool detected_here() const { return failure_.origin == rank_; }

  // Records a failure this rank detected: `culprit` is the plan rank at fault, `detail` the
  // message; `wait_peer` the peer this rank gave up waiting for (kDeadlineExceeded), else -1.
  void Fail(absl::StatusCode code, int culprit, std::string detail, int wait_peer = -1);

  // Records the failure that an abort frame received from plan rank `peer` reports.
  void FailFromAbort(int peer, const FrameHeader& header);

  // True when `header` (an abort frame) says its origin gave up waiting for plan rank `rank`.
  static bool BlamesForTimeout(const FrameHeader& header, int rank);

  // After the failure: sends this rank's abort frame to each of `peers` (the plan ranks this rank
  // sends to over connections that have not failed), now and whenever Linger adopts a culprit.
  void Flood(std::vector<int> peers);

  // After Flood: `owed[p]` lists the receives posted on plan rank p's connection whose frames have
  // not arrived, for every peer whose connection has not failed. Waits, until `deadline` at the
  // latest, for each peer owing frames to answer (any frame it sent before, then its abort) or
  // fail, and on kDeadlineExceeded follows the wait chain through failure().wait_peer.
  // `frame_bytes` is enough for any frame of the plan.
  void Linger(std::map<int, std::vector<std::shared_ptr<RecvHandle>>> owed, size_t frame_bytes,
              absl::Time deadline);

  // The failure's detail, with the wait chain where there is one; the executor prefixes it.
  std::string Report() const;

  // Waits until every abort frame sent so far left, or until `until`.
  void AwaitSent(absl::Time until) const;
  // Whether a receive that Linger posted or adopted on `peer`'s connection is still pending.
  bool Pending(int peer) const;
  // Wait, up to `each` per operation, for the transport to finish with the frames posted.
  void ReleaseSends(absl::Duration each) const;
  void ReleaseRecvs(int peer, absl::Duration each) const;

 private:
  void SendAborts();

  const int rank_;
  const RankNames names_;
  const absl::Span<Connection* const> connections_;
  const uint64_t job_id_;
  const uint64_t sequence_;
  Failure failure_;
  std::vector<int> flood_peers_;
  // Frames posted after the plan's own steps, kept alive until done or their connection closed.
  std::vector<std::shared_ptr<Handle>> sends_;
  std::map<int, std::deque<std::shared_ptr<RecvHandle>>> recvs_;
  std::vector<std::byte> linger_buffer_;
};

}  // namespace crosslink::collectives::internal

#endif  // CROSSLINK_COLLECTIVES_SRC_EXECUTION_ABORT_PROTOCOL_H_
