// Conversions between float32 and the two 16-bit float formats the collectives carry: IEEE
// binary16 (fp16) and bfloat16 (bf16). Values travel and are stored as raw uint16_t words; host
// reductions widen each element to float32, reduce, and round back once per reduction step.
//
// Rounding is round-to-nearest-even, as IEEE arithmetic and GPU conversions do, so a value that
// a GPU produced and Crosslink reduced rounds the same way. Infinities stay infinities, NaNs stay
// NaNs (quiet, sign kept), overflow rounds to infinity and underflow to subnormals or zero.
//
// Branch-free bit arithmetic (after Maratyszcza's FP16 library) so that reduction loops over
// these inline functions vectorise. Requires IEEE float32 arithmetic in round-to-nearest mode,
// the default; never compile this with -ffast-math.
//
// Thread-safety: pure functions.
#ifndef CROSSLINK_COLLECTIVES_HALF_H_
#define CROSSLINK_COLLECTIVES_HALF_H_

#include <bit>
#include <cstdint>

namespace crosslink::collectives {

// float32 value of an fp16 word. Exact (every fp16 value is a float32 value).
inline float HalfToFloat(uint16_t h) {
  const uint32_t w = static_cast<uint32_t>(h) << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  // Normal numbers, infinities and NaNs: move the exponent and mantissa into float32 position
  // with an exponent offset, then scale by 2^-112 to undo the bias difference (15 vs 127);
  // infinity and NaN survive the scaling unchanged.
  constexpr uint32_t kExpOffset = 0xE0u << 23;
  constexpr float kExpScale = 0x1.0p-112f;
  const float normalized = std::bit_cast<float>((two_w >> 4) + kExpOffset) * kExpScale;
  // Subnormals: build 0.5 + m * 2^-24 in float32 and subtract 0.5 (exact).
  constexpr uint32_t kMagicMask = 126u << 23;
  constexpr float kMagicBias = 0.5f;
  const float denormalized = std::bit_cast<float>((two_w >> 17) | kMagicMask) - kMagicBias;
  constexpr uint32_t kDenormalizedCutoff = 1u << 27;
  const uint32_t bits = sign | (two_w < kDenormalizedCutoff ? std::bit_cast<uint32_t>(denormalized)
                                                            : std::bit_cast<uint32_t>(normalized));
  return std::bit_cast<float>(bits);
}

// fp16 word nearest to `f` (ties to even). NaN becomes the quiet NaN 0x7E00 with f's sign.
inline uint16_t FloatToHalf(float f) {
  // Scaling up then down by powers of two lets the FPU do the rounding at the fp16 precision:
  // the first product overflows to infinity exactly when f rounds to fp16 infinity.
  constexpr float kScaleToInf = 0x1.0p+112f;
  constexpr float kScaleToZero = 0x1.0p-110f;
  float base =
      (std::bit_cast<float>(std::bit_cast<uint32_t>(f) & 0x7FFFFFFFu) * kScaleToInf) * kScaleToZero;
  const uint32_t w = std::bit_cast<uint32_t>(f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t exponent = shl1_w & 0xFF000000u;
  const uint32_t bias = exponent < 0x71000000u ? 0x71000000u : exponent;
  // Adding 2^(e+bias adjustment) aligns the mantissa so the FPU's rounding of the sum is the
  // round-to-nearest-even of the fp16 mantissa.
  base = std::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = std::bit_cast<uint32_t>(base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<uint16_t>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

// float32 value of a bf16 word. Exact.
inline float BFloat16ToFloat(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

// bf16 word nearest to `f` (ties to even). NaN stays NaN (quiet bit forced, sign and the top
// payload bits kept), so a NaN never rounds into infinity.
inline uint16_t FloatToBFloat16(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const bool is_nan = (u & 0x7FFFFFFFu) > 0x7F800000u;
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  const uint32_t nan = (u >> 16) | 0x0040u;
  return static_cast<uint16_t>(is_nan ? nan : rounded);
}

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_HALF_H_
