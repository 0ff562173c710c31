// Which of one rank's plan steps must complete before another may start. The executor
// (executor.cc) starts a step as soon as every step listed for it is done, so these lists are all
// the ordering it keeps beyond the per-peer order of the transport; CompressedWire
// (compressed_wire.h) reads them to find a send's last writers.
//
// Contract: deps[i] lists earlier steps only (indices < i), sorted, without repeats, derived from
// the buffer elements the steps touch ([offset, offset + count) of the caller's buffer):
//   read-after-write   a send waits for the last step that wrote any of its elements;
//   write-after-write  a receive, reduce, copy or finalize waits for the last writer of its
//                      elements;
//   write-after-read   it also waits for every send that read those elements since that write,
//                      because the transport borrows a send's payload until the send completes.
// An empty step (count 0) touches no elements: an empty send carries only order (a barrier round,
// an empty block forwarded around a ring), so it waits for the latest receive from every peer
// listed before it (receives from one peer complete in order); other empty steps wait for nothing.
// A kSendInput (alltoall) reads only the caller's input, which no step writes: it waits for
// nothing, empty or not, and no step waits for it.
// So a non-empty send's list is exactly the last writers of its elements (elements never written
// in the plan have none); the executor and CompressedWire rely on that.
//
// Pure function of the steps; O(steps x regions) time. Thread-safe.
#ifndef CROSSLINK_COLLECTIVES_SRC_EXECUTION_STEP_DEPENDENCIES_H_
#define CROSSLINK_COLLECTIVES_SRC_EXECUTION_STEP_DEPENDENCIES_H_

#include <vector>

#include "crosslink/collectives/plan.h"

namespace crosslink::collectives::internal {

// deps[i]: the earlier steps that step i of `steps` (one rank's plan) must wait for.
std::vector<std::vector<int>> ComputeStepDependencies(const std::vector<Step>& steps);

}  // namespace crosslink::collectives::internal

#endif  // CROSSLINK_COLLECTIVES_SRC_EXECUTION_STEP_DEPENDENCIES_H_
