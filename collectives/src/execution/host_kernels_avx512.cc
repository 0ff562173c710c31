// The host kernels for AVX-512 (F, BW, DQ, VL: Skylake-SP, Ice Lake, Zen 4 and later).
#define CROSSLINK_HOST_ISA_NAMESPACE avx512
#define CROSSLINK_HOST_ISA_TARGET \
  "avx512f,avx512bw,avx512dq,avx512vl,avx2,f16c,fma,bmi,bmi2,popcnt,sse4.2"
#define CROSSLINK_HOST_ISA_AVX512 1
#include "host_kernels_for_isa.inc"
