// The α-β cost model that picks an allreduce algorithm, kept apart from the executor as NCCL keeps
// graph/ apart from transport/: the executor runs whatever plan it is given and never learns why.
//
// Model (Hockney; Thakur, Rabenseifner & Gropp 2005), with α the per-message latency of one link
// (latency_s) and β = 8 / rate_bps seconds per byte, S the buffer size in bytes, n ranks:
//   ring:  2(n-1)·α + 2·(n-1)/n·S·β      (bandwidth-optimal; nccl-tests' busbw factor)
//   tree:  2·⌈log2 n⌉·(α + S·β)          (binomial reduce + broadcast; each level moves S)
// The tree wins while the ring's extra 2(n-1-⌈log2 n⌉)·α outweighs the tree's extra bytes, i.e.
// for small, latency-bound messages on many ranks. Segment pipelining is ignored: it shortens
// both algorithms' large-message times by similar factors and does not move the cross-over much.
//
// Thread-safety: pure functions.
#ifndef CROSSLINK_COLLECTIVES_COST_MODEL_H_
#define CROSSLINK_COLLECTIVES_COST_MODEL_H_

#include <cstddef>

namespace crosslink::collectives {

// What the planner believes about the slowest link the collective crosses.
struct LinkCostHints {
  double latency_s = 5e-3;  // one-way message latency; a few ms is typical of a crosslink
  double rate_bps = 10e9;   // bits per second
};

enum class AllreduceAlgorithm {
  kAuto = 0,  // choose by the cost model below
  kRing = 1,
  kTree = 2,  // binomial tree reduce + broadcast, the latency-bound choice
};

// Estimated seconds for an allreduce of `bytes` over `world_size` ranks (0 for one rank).
double RingAllreduceTimeS(int world_size, size_t bytes, const LinkCostHints& hints);
double TreeAllreduceTimeS(int world_size, size_t bytes, const LinkCostHints& hints);

// The cheaper of ring and tree for these inputs (ties go to the ring); never kAuto.
AllreduceAlgorithm ChooseAllreduceAlgorithm(int world_size, size_t bytes,
                                            const LinkCostHints& hints);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COST_MODEL_H_
