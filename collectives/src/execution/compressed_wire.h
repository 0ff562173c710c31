// CompressedWire: the executor's bookkeeping for a plan with Plan::compression set (float32
// only). Internal to the collectives library; the executor (executor.cc) owns one per call and
// asks it what each message carries. The uncompressed path never creates one.
//
// What travels (wire_codec.h gives the layouts):
//   kSend        carries the encoded bytes of its elements. Encoded once per content: sends of
//                the same elements with the same last writer share one encoding (the tree root
//                sending the final value to several children), and a send of exactly what a
//                plain receive brought forwards the received bytes and their CRC unchanged (the
//                ring's and the tree's allgather/broadcast), never re-encoding them.
//   kRecvReduce  lands in the executor's staging slot and is decoded and reduced into the
//                caller's buffer in one pass.
//   kRecv        lands in a buffer of its own, is decoded into place and kept for its forwards.
// Bit-identity: when a send's elements are final on this rank (no later receive in its plan
// writes them: the ring owner's reduced block, the tree root's result), the encode also replaces
// them with the decoded values, so this rank keeps exactly the bits every other rank decodes.
// Error feedback: each encode of this rank's data goes through the residual (error_feedback.h).
//
// Buffers: wire buffers come from a per-thread pool reused across calls (a rank's collectives run
// on its thread one at a time) and go back when every send carrying them completed, or when the
// object is destroyed (after the executor waited for the transport to release them).
// Thread-safety: used by one executor thread.
#ifndef CROSSLINK_COLLECTIVES_SRC_EXECUTION_COMPRESSED_WIRE_H_
#define CROSSLINK_COLLECTIVES_SRC_EXECUTION_COMPRESSED_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "crosslink/collectives/compression/wire_compression.h"
#include "crosslink/collectives/plan.h"
#include "crosslink/collectives/reduce.h"

namespace crosslink::collectives::internal {

class CompressedWire {
 public:
  // `steps` is this rank's plan, `deps` its ComputeStepDependencies (step_dependencies.h: a send
  // lists the last writers of its elements). `data` is the caller's float32 buffer; `residual`
  // (nullable) the error feedback for all plan.count elements.
  CompressedWire(const Plan& plan, const std::vector<Step>& steps,
                 const std::vector<std::vector<int>>& deps, float* data, float* residual);
  ~CompressedWire();
  CompressedWire(const CompressedWire&) = delete;
  CompressedWire& operator=(const CompressedWire&) = delete;

  // Bytes of the message of a step moving `count` elements.
  size_t WireBytes(size_t count) const;
  // Size of every receive buffer (the executor's slots use the same): at least `bytes`.
  void SetBufferBytes(size_t bytes);

  // The buffer plain receive `i` lands in.
  absl::Span<std::byte> RecvBuffer(int i);
  // After receive `i` arrived with its header checked: kRecv decodes its own buffer into place;
  // kRecvReduce decodes and reduces `slot` (the executor's staging slot) into place.
  void FinishRecv(int i, const std::byte* slot, uint32_t crc);

  struct Payload {
    absl::Span<const std::byte> bytes;
    bool crc_known = false;  // bytes' CRC32C is `crc` (a forwarded frame's)
    uint32_t crc = 0;
  };
  // What send `i` carries; encodes on the first send of its content. The bytes stay valid until
  // SendDone(i).
  Payload SendPayload(int i);
  void SendDone(int i);

 private:
  struct Wire {
    std::byte* buffer = nullptr;
    size_t bytes = 0;
    bool ready = false;
    bool crc_known = false;
    uint32_t crc = 0;
    int refs = 0;  // sends carrying it that have not completed
  };
  std::byte* Take();
  void Give(std::byte* buffer);

  const Plan& plan_;
  const std::vector<Step>& steps_;
  float* const data_;
  float* const residual_;
  const ReduceFn reduce_;
  size_t buffer_bytes_ = 0;
  std::vector<int> source_;    // per send: the step whose Wire it carries (a writer or a send)
  std::vector<int> forwards_;  // per step: sends carrying its Wire
  std::vector<char> final_;    // per send: no later receive writes its elements
  std::vector<Wire> wires_;    // per step
};

}  // namespace crosslink::collectives::internal

#endif  // CROSSLINK_COLLECTIVES_SRC_EXECUTION_COMPRESSED_WIRE_H_
