// The executor runs one rank's part of a Plan (plan.h) over the transport (transport.h). It is
// the only part of the collectives that touches connections; it does not know which algorithm
// made the plan or why.
//
// Blocking: returns when this rank's part is done or failed, at the latest at `deadline` plus the
// time to close connections (up to about 0.5 s for the abort frames to leave and 1 s per operation
// still held by the transport). Every rank of the plan must call it with the same plan and
// sequence number (a collective). Thread-safety: one call per rank at a time; calls for different
// ranks may run on different threads at once; the connections may be shared with nothing else
// while it runs. Ownership: everything in ExecuteArgs is borrowed for the call: `data`
// (plan.count elements) and `input` (the transport is done with them when it returns; on failure
// `data`'s contents are unspecified), the plan, the connections (which a failed call may close),
// `rank_names` and `error_feedback`. Status codes: below (Checks and failures).
//
// How it runs: receives are posted ahead of need (up to kRecvWindow per peer) and sends are
// queued as soon as the data they carry is final, so several segments are in flight on every
// link. A received segment is reduced on receive where the connection allows it
// (Connection::ReceivesInPieces: TCP and shared memory, not LinkEmulator or ResumableConnection)
// and the reduce's dependencies are done when it is posted: the transport reads each piece of at
// most 256 KiB into a scratch of its own and the executor's sink reduces it into the caller's
// buffer at once, so the bytes are touched once. Elsewhere (and for compressed plans, whose
// messages decode first) the segment lands in a staging slot and is reduced from there. Plain
// receives land directly in the caller's buffer (no copy), except the first message from each
// peer, which is staged so that a peer sending more than expected is detected as a disagreement
// instead of breaking the connection. A reduced-on-receive message whose CRC32C fails at its end
// has already been reduced into the step's elements: the collective then fails with kDataLoss
// and `data` is unspecified, as after any failure, and no step that reads those elements (the
// send forwarding them) has run, since the reduce completes only once the whole message checked.
// Dependencies between steps that touch the same elements are derived from the plan
// (read-after-write, write-after-read, write-after-write:
// collectives/src/execution/step_dependencies.h); an empty send carries only order, so it waits
// for every receive listed before it in the plan (a barrier round, or an empty block forwarded
// around a ring). The reduction is fused with the CRC32C of its result (16 KiB at a time, while
// in L1), and a received segment's CRC is the one its frame carried, so forwarding either (the
// ring's next step) hands the transport a known CRC (Connection::SendWithCrc) instead of making it
// read the payload once more.
//
// Compression (Plan::compression, float32 only): messages carry encoded values (wire_codec.h)
// instead; every receive is staged and decoded (a reduce decodes and reduces in one pass), a
// forward sends the received bytes and their CRC unchanged, and the rank that computes a final
// value replaces it with its decoded encoding before sending it, so ranks stay bit-identical.
// ExecuteArgs::error_feedback carries this rank's residual across calls. The uncompressed path
// is untouched by it.
//
// Checks and failures. Every frame carries the job id, the collective's sequence number, its
// chunk, and in FrameHeader::tag a 32-bit signature of (collective, algorithm, world size, count,
// type, op, root, max_segment_bytes, compression; an alltoall's count is left out, since uneven
// splits give every rank its own, and each of its messages' chunk and length is checked
// instead); every received header is checked. On the
// first failure a rank sends a header-only abort frame (chunk kAbortChunk; the tag encodes the
// status code, the plan rank that detected the problem and the plan rank at fault) to every peer
// it sends to in the plan, and a rank that receives one fails with the same code and forwards it,
// so the failure floods the plan's communication graph and no rank waits for a peer that gave up
// (collectives/src/execution/abort_protocol.h). Every message starts "rank R: <algorithm>
// <collective> seq S:" and names ranks by ExecuteArgs::rank_names (job ranks) when given, else by
// plan rank. Codes:
//   kInvalidArgument   ranks disagree on the collective's arguments (signature, count, chunk or
//                      sequence mismatch, or a frame longer than expected), or bad arguments here
//                      (null plan or data, a rank outside the plan, connections or rank_names not
//                      of world size, a missing connection the plan needs, a step outside the
//                      buffer, compression of non-float32 data, an alltoall's input null or
//                      overlapping its output; returned at once, nothing sent);
//                      the message names this rank and the rank whose frame disagreed.
//   kDeadlineExceeded  a peer did not deliver in time. To name the rank really at fault rather
//                      than a neighbour stuck behind it, a rank stops waiting at
//                      deadline - min(10% of the time left at the start, 1 s), tells its peers
//                      whom it waited for, and uses the remaining time to learn whom that peer
//                      waited for; it returns at the deadline naming both.
//   kUnavailable       a connection failed or was closed (the message includes its Describe()).
//   kDataLoss          a frame failed its CRC32C.
//   kInternal          the plan cannot make progress (a planner bug).
// A rank that learns of a failure from an abort frame returns the code the frame carries (one of
// the above; kAborted if it carries none) and names the rank that detected it and the rank at
// fault; except kDataLoss, which only the rank whose check failed returns: the others' data was
// intact, and they return kAborted naming it (an elastic job's survivors go on without the rank
// that caught the corruption, which leaves).
// Broadcast's root only sends, so it cannot notice that the other ranks disagree with it.
//
// After a failure the connections' streams are out of step: the executor closes every
// connection on which it leaves an operation pending (after the other ranks had the chance to
// read its abort frame) and the caller must not reuse the others for collectives either.
#ifndef CROSSLINK_COLLECTIVES_EXECUTOR_H_
#define CROSSLINK_COLLECTIVES_EXECUTOR_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crosslink/collectives/compression/error_feedback.h"
#include "crosslink/collectives/plan.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

// FrameHeader::chunk of an abort frame. Planners number chunks below 0xFFFFFF00.
inline constexpr uint32_t kAbortChunk = 0xFFFFFFFFu;

// Receives posted ahead per peer. Eight segments of 512 KiB keep a 100 Gbit/s link with a
// millisecond of latency busy only partially, but the window bounds staging memory (8 slots of
// max_segment_bytes per peer) and the latency is hidden by the ring's pipelining across links.
inline constexpr int kRecvWindow = 8;

// The 32-bit signature carried in FrameHeader::tag (FNV-1a over the fields, folded).
uint32_t PlanSignature(const Plan& plan);

struct ExecuteArgs {
  const Plan* plan = nullptr;
  int rank = 0;
  // connections[p] is this rank's connection to rank p (nullptr for p == rank); size world_size.
  absl::Span<Connection* const> connections;
  uint64_t job_id = 0;
  uint64_t sequence = 0;  // the collective's sequence number, equal on every rank
  void* data = nullptr;   // plan->count elements of plan->type
  // kCopy's source; nullptr when the data is already in place (the copy is then skipped, as it is
  // when input points at the destination itself). Plans with input_count > 0 (alltoall) need it:
  // plan->input_count elements that kSendInput sends from, sharing no byte with `data`.
  const void* input = nullptr;
  absl::Time deadline = absl::InfiniteFuture();
  // Plans with compression only: this rank's residual for `data`, kept by the caller across
  // steps (error_feedback.h); nullptr encodes without error feedback.
  ErrorFeedback* error_feedback = nullptr;
  // rank_names[i] is the caller's name (its rank in the job) of plan rank i, for messages; empty:
  // plan ranks are job ranks. Set it when the plan runs over a subset or a reordering of the job's
  // ranks, so that statuses name the ranks a user knows; otherwise of size plan->world_size. Frames
  // on the wire carry plan ranks either way.
  absl::Span<const int> rank_names;
};

// Runs args.plan->ranks[args.rank]. See the header comment for the status codes.
absl::Status ExecutePlan(const ExecuteArgs& args);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_EXECUTOR_H_
