// Blockwise int8 compression of float32 gradients with error feedback: the codec that lets a
// collective send a quarter of the bytes over a slow crosslink while the training loop still
// sees, summed over steps, every bit of gradient it produced.
//
// Format: the values are cut into blocks of kInt8BlockSize (the last may be shorter). Block b has
// one float32 scale s_b = max|v| / 127 over its values v, and each value is sent as
// q = clamp(rint(v / s_b), -127, 127) (round to nearest even); dequantisation is q * s_b. A
// block of zeros has s_b = 0 and q = 0. A block holding an Inf or NaN gets s_b = NaN and q = 0,
// so that its dequantised values are NaN (an overflowed gradient stays visible, as it would be
// uncompressed) and its error feedback is reset to 0 (one bad step does not poison later ones).
//
// Error feedback: with a buffer e (count floats, zero before the first step), each call encodes
// v = x + e and stores e = v - q * s_b, so the sum over steps of the dequantised values differs
// from the sum of the inputs by the last e only: |e| <= s_b / 2 per element (up to float rounding).
//
// Bit-identity: every step is one correctly rounded IEEE float32 operation in a fixed order
// (add, division, rint, multiply, subtract; no fused multiply-add), so the host codec here and
// the CUDA kernels in crosslink/collectives/cuda/int8_codec.h produce identical bytes for the same
// input, scales included.
//
// Thread-safety: pure functions; buffers must not be written concurrently. Buffers are borrowed.
#ifndef CROSSLINK_COLLECTIVES_COMPRESSION_INT8_BLOCKWISE_H_
#define CROSSLINK_COLLECTIVES_COMPRESSION_INT8_BLOCKWISE_H_

#include <cstddef>
#include <cstdint>

namespace crosslink::collectives {

// Values per scale. 256: the scale costs 4 bytes per 256 (1.6% on top of the int8 payload), and
// a block is small enough that one large gradient entry only coarsens 255 neighbours.
inline constexpr size_t kInt8BlockSize = 256;

// Number of blocks (and scales) for `count` values: ceil(count / kInt8BlockSize).
constexpr size_t Int8NumBlocks(size_t count) {
  return (count + kInt8BlockSize - 1) / kInt8BlockSize;
}

// Encodes x[0, count) into q[0, count) and scales[0, Int8NumBlocks(count)). `error_feedback`
// (count floats) is added to x first and receives the new residual; nullptr encodes x as is.
void Int8QuantizeBlockwise(const float* x, size_t count, float* error_feedback, int8_t* q,
                           float* scales);

// out[i] = q[i] * scales[i / kInt8BlockSize] for i in [0, count).
void Int8DequantizeBlockwise(const int8_t* q, const float* scales, size_t count, float* out);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COMPRESSION_INT8_BLOCKWISE_H_
