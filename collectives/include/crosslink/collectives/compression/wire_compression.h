// How a collective's payload travels on the wire. Chosen per collective (CollectiveOptions in the
// runtime): a slow or soon-to-drop crosslink carries half (bf16) or about a quarter (int8
// blockwise, int8_blockwise.h) of the float32 bytes. Only float32 data is compressed; every
// other type travels as is whatever is asked.
#ifndef CROSSLINK_COLLECTIVES_COMPRESSION_WIRE_COMPRESSION_H_
#define CROSSLINK_COLLECTIVES_COMPRESSION_WIRE_COMPRESSION_H_

#include <cstdint>

namespace crosslink::collectives {

enum class WireCompression : uint8_t {
  kNone = 0,
  kBf16 = 1,  // round-to-nearest-even bfloat16
  kInt8 = 2,  // int8 blockwise with one float32 scale per kInt8BlockSize values
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COMPRESSION_WIRE_COMPRESSION_H_
