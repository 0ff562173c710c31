// The host kernels for AVX2 (Haswell, Zen and later); F16C and FMA are in the target because
// every AVX2 CPU has them (fp-contract=off keeps FMA from fusing anything).
#define CROSSLINK_HOST_ISA_NAMESPACE avx2
#define CROSSLINK_HOST_ISA_TARGET "avx2,f16c,fma,bmi,bmi2,popcnt,sse4.2"
#define CROSSLINK_HOST_ISA_AVX2 1
#include "host_kernels_for_isa.inc"
