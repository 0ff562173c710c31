// The host kernels for AVX-512 with AVX512_BF16 and AVX512_VBMI (Zen 4, Sapphire Rapids and
// later): AVX-512's, with the bf16 kernels and codec rounding through vcvtne2ps2bf16 where that
// equals half.h's rounding, and VBMI's one-uop byte permutes where the AVX-512 set permutes words
// (host_word_kernels.inc, host_float_division.inc).
#define CROSSLINK_HOST_ISA_NAMESPACE avx512bf16
#define CROSSLINK_HOST_ISA_TARGET \
  "avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx512vbmi,avx2,f16c,fma,bmi,bmi2,popcnt,sse4.2"
#define CROSSLINK_HOST_ISA_AVX512 1
#define CROSSLINK_HOST_ISA_AVX512BF16 1
#define CROSSLINK_HOST_ISA_AVX512VBMI 1
#include "host_kernels_for_isa.inc"
