// The byte layout of one compressed message and the host codecs that write and read it: what the
// executor puts on the wire when a plan asks for WireCompression::kBf16 or kInt8, and what the
// simulator counts. A message carries `count` float32 values of the collective's buffer:
//   kNone: count float32 values (4 * count bytes), the uncompressed layout.
//   kBf16: count bfloat16 words, round-to-nearest-even (2 * count bytes).
//   kInt8: Int8NumBlocks(count) float32 scales, then count int8 values (int8_blockwise.h); the
//          blocks start at the message's first value (4 * ceil(count / 256) + count bytes).
//
// Error bound of one encode (per element, with v the value encoded, including any residual):
//   kBf16: |v - decoded| <= 2^-8 * |v| (half a unit in the last of bf16's 8 significant bits).
//   kInt8: |v - decoded| <= s / 2 = max|v over its block| / 254 (half a quantisation step).
// Non-finite values: bf16 keeps Inf and NaN; int8 turns a block holding one into NaNs.
//
// Error feedback: where `error_feedback` is given (count floats, this rank's residual for these
// elements) the encoder encodes v = x + e and stores e = v - decoded(v), so that what one step
// loses is sent with the next (a residual that is not finite is reset to 0).
//
// Thread-safety: pure functions; buffers are borrowed for the call and must not overlap except
// where said. `wire` buffers need 4-byte alignment (the int8 scales are read in place).
#ifndef CROSSLINK_COLLECTIVES_COMPRESSION_WIRE_CODEC_H_
#define CROSSLINK_COLLECTIVES_COMPRESSION_WIRE_CODEC_H_

#include <cstddef>

#include "crosslink/collectives/compression/wire_compression.h"
#include "crosslink/collectives/reduce.h"

namespace crosslink::collectives {

// "none", "bf16", "int8"; and the inverse (false for an unknown name).
const char* WireCompressionName(WireCompression compression);
bool ParseWireCompression(const char* name, WireCompression* out);

// Bytes of a message carrying `count` float32 values (see the layouts above).
size_t WireBytes(WireCompression compression, size_t count);

// The error bound of a compressed float32 sum allreduce over `world_size` ranks, ring or tree,
// without error feedback: for every element,
//   |result - exact| <= factor * W,   factor = n c / (1 - n c),
// where c is one encode's relative bound above plus 2^-23 (the float32 addition forming each
// partial sum and kAvg's division), and W is sum_r |x_r| for the element (kBf16) or the largest
// such sum over the element's int8 block, which lies within 255 elements of it (kInt8). Each of
// the n encodes an element meets (n - 1 partial sums and the final value; the tree: one per rank)
// errs by at most c times a partial sum, and every partial sum is at most W plus the error so
// far. kAvg: divide the bound by n. With error feedback, x_r includes the residual. Returns 0 for
// kNone and infinity when n c >= 1 (int8 beyond 254 ranks: no useful bound).
double CompressedAllreduceErrorFactor(WireCompression compression, int world_size);

// Encodes x[0, count) into wire[0, WireBytes(compression, count)). `error_feedback` may be
// nullptr (encode x as is). kNone copies the floats.
void EncodeWire(WireCompression compression, const float* x, size_t count, float* error_feedback,
                std::byte* wire);

// out[0, count) = the values `wire` carries.
void DecodeWire(WireCompression compression, const std::byte* wire, size_t count, float* out);

// inout[i] = reduce(inout[i], decoded[i]) for i in [0, count), decoding and reducing 16 KiB of
// floats at a time so that the decoded values never leave L1. `reduce` is a float32 ReduceFn.
void DecodeReduceWire(WireCompression compression, const std::byte* wire, size_t count,
                      ReduceFn reduce, float* inout);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COMPRESSION_WIRE_CODEC_H_
