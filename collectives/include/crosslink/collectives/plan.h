// A Plan says, for every rank of a collective, which messages it sends and receives, in which
// order, which part of the buffer each one carries, and where partial results are reduced. It is
// plain data: the planners (algorithms.h) build it, the executor (executor.h) runs one rank's
// part of it over real connections, and a simulator can run it in virtual time. The executor does
// not know why a plan was chosen (cost_model.h decides that).
//
// Buffers and units: offsets and counts are in elements of `type`, into the collective's one
// buffer ("data"); kCopy and kSendInput alone read a second, caller-supplied "input" buffer,
// which no step writes. Every rank's data buffer holds `count` elements, except in an alltoall
// with uneven splits, whose plans are made one rank at a time (algorithms.h) and whose `count`
// and `input_count` are that rank's.
//
// Bit-identity rule every planner keeps: each element's final value is computed by exactly one
// rank (the reduction order is fixed by the plan, not by message arrival) and every other rank
// receives those bits, so all ranks end with identical buffers.
//
// Message matching: the i-th kSend/kSendInput from rank a to rank b pairs with the i-th
// kRecv/kRecvReduce of rank b from rank a; the pair has the same chunk and count
// (PlanIsConsistent checks it).
// Every block of an algorithm travels as at least one message, even an empty one, so that ranks
// with empty blocks (count < world size, count 0) still take part and still detect disagreement.
#ifndef CROSSLINK_COLLECTIVES_PLAN_H_
#define CROSSLINK_COLLECTIVES_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "crosslink/collectives/compression/wire_compression.h"
#include "crosslink/collectives/datatype.h"

namespace crosslink::collectives {

enum class CollectiveKind : uint8_t {
  kAllreduce = 0,
  kReduceScatter = 1,
  kAllgather = 2,
  kBroadcast = 3,
  kBarrier = 4,
  kAlltoall = 5,
};
std::string_view CollectiveKindName(CollectiveKind kind);  // "allreduce", ...

enum class StepOp : uint8_t {
  kSend = 0,        // send data[offset, offset+count) to peer
  kRecv = 1,        // receive into data[offset, offset+count) from peer
  kRecvReduce = 2,  // receive from peer, then data[offset..] = op(data[offset..], received)
  kCopy = 3,        // data[offset, offset+count) = input[src_offset, src_offset+count)
  kFinalize = 4,    // apply the op's final pass (kAvg: divide by world size) to the range
  // send input[src_offset, src_offset+count) to peer (alltoall: the input is read-only, so it
  // waits for no other step; `offset` is unused and 0)
  kSendInput = 5,
};
// "send", "recv", "recv_reduce", "copy", "finalize", "send_input"
std::string_view StepOpName(StepOp op);
// kSend or kSendInput: a step that sends a message.
inline bool IsSendOp(StepOp op) { return op == StepOp::kSend || op == StepOp::kSendInput; }

struct Step {
  StepOp op = StepOp::kSend;
  int peer = -1;          // kSend/kRecv/kRecvReduce: the other rank; -1 for local steps
  size_t offset = 0;      // elements into data
  size_t count = 0;       // elements
  size_t src_offset = 0;  // kCopy and kSendInput only: elements into input
  uint32_t chunk = 0;     // which piece of the collective; equal on a matched send and receive
  uint32_t stage = 0;     // the algorithm's step number (ring step, tree level), for reading
};

struct Plan {
  std::string algorithm;  // "ring_allreduce", "tree_allreduce", ...
  CollectiveKind kind = CollectiveKind::kAllreduce;
  int world_size = 1;
  size_t count = 0;  // elements in every rank's data buffer
  // Elements of the input buffer that kCopy and kSendInput read at offsets (alltoall: this
  // rank's input); 0 for the other kinds, whose kCopy reads this rank's own block at offset 0.
  size_t input_count = 0;
  DataType type = DataType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  int root = 0;                  // kBroadcast's source rank; 0 otherwise
  size_t max_segment_bytes = 0;  // the segment limit the plan was cut with
  // How float32 messages travel (compression/wire_codec.h); kNone for every other type. Part of
  // the plan's signature. Offsets, counts and segments stay in float32 elements either way.
  WireCompression compression = WireCompression::kNone;
  // ranks[r] is rank r's ordered step list. A plan made for one rank (algorithms.h's only_rank)
  // leaves the other lists empty.
  std::vector<std::vector<Step>> ranks;
};

// Element range [offset, offset+count) of block `block` when `count` elements are cut into
// `blocks` nearly equal blocks: the first count % blocks blocks hold one element more.
struct Range {
  size_t offset = 0;
  size_t count = 0;
};
Range BlockRange(size_t count, int blocks, int block);

// Element range of segment `segment` of a range cut into pieces of at most `segment_elems`
// elements, and how many segments that makes (at least 1, even for an empty range).
size_t SegmentCount(size_t range_count, size_t segment_elems);
Range SegmentRange(Range range, size_t segment_elems, size_t segment);

// Elements per segment for a byte limit: max(1, max_segment_bytes / element size).
size_t SegmentElements(size_t max_segment_bytes, DataType type);

// Human-readable dump, one line per step (the first line ends in " compression=..." when set),
// e.g.
//   ring_allreduce allreduce world=3 count=10 float32 sum root=0 max_segment_bytes=8
//   rank 0: 12 steps
//     #0 recv_reduce from 2 [3,+3) chunk 1 stage 0
std::string DescribePlan(const Plan& plan);

// Checks the matching rule above over all ranks (a plan built for every rank): every send has a
// receive at its peer in the same position with the same chunk and count, no rank talks to
// itself, every range lies inside the data buffer and every kSendInput range inside the input
// buffer (input_count). kInvalidArgument naming the first offence.
absl::Status PlanIsConsistent(const Plan& plan);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_PLAN_H_
