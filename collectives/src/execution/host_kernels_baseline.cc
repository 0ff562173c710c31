// The host kernels for the x86-64 baseline (SSE2): the fallback on every CPU, and the reference
// the wider sets are tested against.
// The optimisation options first, so that the headers' inline functions share them and can be
// inlined; the instruction set after the headers (host_kernels.inc says why).
#pragma GCC optimize("tree-vectorize", "vect-cost-model=dynamic", "no-trapping-math", \
                     "fp-contract=off")
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "crosslink/collectives/compression/int8_blockwise.h"
#include "crosslink/collectives/half.h"
#include "crosslink/collectives/host_kernels.h"

#define CROSSLINK_HOST_ISA_NAMESPACE baseline
#include "host_kernels.inc"
