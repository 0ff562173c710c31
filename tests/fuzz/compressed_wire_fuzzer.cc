// Fuzzes the decoders of compressed messages (collectives/compression/wire_codec.h) on bytes as
// they arrive from a peer: the executor checks that a frame's length is WireBytes(count) for the
// step's count (executor.cc) and then decodes whatever those bytes hold, so every bit pattern of
// the right length must decode without undefined behaviour: NaN and infinite int8 scales, bf16
// NaNs and denormals.
//
// Input: one back byte chooses the compression and the reduction; the front bytes, cut to the
// longest whole message, are the wire bytes.
//
// Properties checked: nothing crashes or hits undefined behaviour; the fused decode-and-reduce
// (the kRecvReduce path) gives exactly what decoding and then reducing gives; re-encoding decoded
// values and decoding them again is stable (a decoded value is representable).
#include <cmath>
#include <cstring>
#include <vector>

#include "crosslink/collectives/compression/wire_codec.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/reduce.h"
#include "fuzz_input.h"

namespace {

using crosslink::collectives::WireBytes;
using crosslink::collectives::WireCompression;

// The largest count whose message fits in `bytes`.
size_t CountFor(WireCompression compression, size_t bytes) {
  size_t lo = 0, hi = bytes;  // WireBytes(c, n) >= n for every layout
  while (lo < hi) {
    const size_t mid = lo + (hi - lo + 1) / 2;
    if (WireBytes(compression, mid) <= bytes) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

bool SameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace cl = crosslink::collectives;
  crosslink::fuzz::FuzzInput in(data, size);
  const uint8_t choice = in.Choice();
  const auto compression = static_cast<WireCompression>(choice % 3);
  const auto op = static_cast<cl::ReduceOp>((choice / 3) % cl::kNumReduceOps);
  const size_t count = CountFor(compression, in.remaining());
  const size_t bytes = WireBytes(compression, count);
  size_t got = 0;
  const uint8_t* front = in.TakeFront(bytes, &got);
  // Receive buffers are float-aligned (wire_codec.h): copy into one, as the transport's are.
  std::vector<float> wire((bytes + 3) / 4 + 1);
  std::memcpy(wire.data(), front, got);
  const auto* wire_bytes = reinterpret_cast<const std::byte*>(wire.data());

  std::vector<float> decoded(count);
  cl::DecodeWire(compression, wire_bytes, count, decoded.data());

  // Fused decode-and-reduce equals decode, then reduce.
  std::vector<float> fused(count), separate(count);
  for (size_t i = 0; i < count; ++i) fused[i] = separate[i] = static_cast<float>(i % 7) - 3.0f;
  const cl::ReduceFn reduce = cl::GetReduceFn(cl::DataType::kFloat32, op);
  cl::DecodeReduceWire(compression, wire_bytes, count, reduce, fused.data());
  reduce(separate.data(), decoded.data(), count);
  for (size_t i = 0; i < count; ++i) CROSSLINK_FUZZ_CHECK(SameFloat(fused[i], separate[i]));

  // A decoded message re-encodes to values that decode to themselves (kNone and kBf16 exactly;
  // int8 re-quantises a block against its own largest value, which a decoded block keeps).
  if (compression != WireCompression::kInt8) {
    std::vector<float> wire2((bytes + 3) / 4 + 1);
    auto* wire2_bytes = reinterpret_cast<std::byte*>(wire2.data());
    cl::EncodeWire(compression, decoded.data(), count, nullptr, wire2_bytes);
    std::vector<float> again(count);
    cl::DecodeWire(compression, wire2_bytes, count, again.data());
    for (size_t i = 0; i < count; ++i) CROSSLINK_FUZZ_CHECK(SameFloat(again[i], decoded[i]));
  }
  return 0;
}
