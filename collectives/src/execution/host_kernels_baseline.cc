// The host kernels for the x86-64 baseline (SSE2): the fallback on every CPU, and the reference
// the wider sets are tested against.
#define CROSSLINK_HOST_ISA_NAMESPACE baseline
#include "host_kernels_for_isa.inc"
