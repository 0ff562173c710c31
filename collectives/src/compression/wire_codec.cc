#include "crosslink/collectives/compression/wire_codec.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "crosslink/collectives/compression/int8_blockwise.h"
#include "crosslink/collectives/host_kernels.h"

namespace crosslink::collectives {
namespace {

// Decoded values per piece of DecodeReduceWire: 16 KiB, a multiple of kInt8BlockSize so that
// every piece starts a block.
constexpr size_t kPieceValues = 4096;
static_assert(kPieceValues % kInt8BlockSize == 0);

const float* Int8Scales(const std::byte* wire) { return reinterpret_cast<const float*>(wire); }
const int8_t* Int8Values(const std::byte* wire, size_t count) {
  return reinterpret_cast<const int8_t*>(wire + Int8NumBlocks(count) * sizeof(float));
}

void DecodePiece(WireCompression compression, const std::byte* wire, size_t count, size_t begin,
                 size_t n, float* out) {
  // An empty message may come with null buffers (a zero-count step of an empty collective);
  // memcpy of zero bytes from or to null is still undefined.
  if (n == 0) return;
  switch (compression) {
    case WireCompression::kNone:
      std::memcpy(out, wire + begin * sizeof(float), n * sizeof(float));
      return;
    case WireCompression::kBf16: {
      ActiveHostKernels().bf16_decode(reinterpret_cast<const uint16_t*>(wire) + begin, n, out);
      return;
    }
    case WireCompression::kInt8:
      // begin is a multiple of kInt8BlockSize (pieces start blocks).
      Int8DequantizeBlockwise(Int8Values(wire, count) + begin,
                              Int8Scales(wire) + begin / kInt8BlockSize, n, out);
      return;
  }
}

}  // namespace

const char* WireCompressionName(WireCompression compression) {
  switch (compression) {
    case WireCompression::kNone:
      return "none";
    case WireCompression::kBf16:
      return "bf16";
    case WireCompression::kInt8:
      return "int8";
  }
  return "unknown";
}

bool ParseWireCompression(const char* name, WireCompression* out) {
  for (WireCompression c :
       {WireCompression::kNone, WireCompression::kBf16, WireCompression::kInt8}) {
    if (std::strcmp(name, WireCompressionName(c)) == 0) {
      *out = c;
      return true;
    }
  }
  return false;
}

size_t WireBytes(WireCompression compression, size_t count) {
  switch (compression) {
    case WireCompression::kNone:
      return count * sizeof(float);
    case WireCompression::kBf16:
      return count * sizeof(uint16_t);
    case WireCompression::kInt8:
      return Int8NumBlocks(count) * sizeof(float) + count;
  }
  return count * sizeof(float);
}

double CompressedAllreduceErrorFactor(WireCompression compression, int world_size) {
  double c = 0;
  switch (compression) {
    case WireCompression::kNone:
      return 0;
    case WireCompression::kBf16:
      c = std::ldexp(1.0, -8);
      break;
    case WireCompression::kInt8:
      c = 1.0 / 254;
      break;
  }
  const double nc = world_size * (c + std::ldexp(1.0, -23));
  return nc < 1 ? nc / (1 - nc) : std::numeric_limits<double>::infinity();
}

void EncodeWire(WireCompression compression, const float* x, size_t count, float* error_feedback,
                std::byte* wire) {
  if (count == 0) return;  // buffers may be null, as in DecodePiece
  switch (compression) {
    case WireCompression::kNone:
      std::memcpy(wire, x, count * sizeof(float));
      if (error_feedback != nullptr) std::fill(error_feedback, error_feedback + count, 0.0f);
      return;
    case WireCompression::kBf16:
      // Rounds as half.h; with error feedback, e becomes what the rounding lost (0 where that is
      // not finite: Inf - Inf is NaN, and an overflowed step must not poison the next ones).
      ActiveHostKernels().bf16_encode(x, count, error_feedback, reinterpret_cast<uint16_t*>(wire));
      return;
    case WireCompression::kInt8: {
      int8_t* q = reinterpret_cast<int8_t*>(wire + Int8NumBlocks(count) * sizeof(float));
      Int8QuantizeBlockwise(x, count, error_feedback, q, reinterpret_cast<float*>(wire));
      return;
    }
  }
}

void DecodeWire(WireCompression compression, const std::byte* wire, size_t count, float* out) {
  DecodePiece(compression, wire, count, 0, count, out);
}

void DecodeReduceWire(WireCompression compression, const std::byte* wire, size_t count,
                      ReduceFn reduce, float* inout) {
  alignas(64) float piece[kPieceValues];
  for (size_t begin = 0; begin < count; begin += kPieceValues) {
    const size_t n = std::min(kPieceValues, count - begin);
    DecodePiece(compression, wire, count, begin, n, piece);
    reduce(inout + begin, piece, n);
  }
}

}  // namespace crosslink::collectives
