// CRC32C (Castagnoli), the checksum of every frame's payload. Uses carry-less multiply folding
// with AVX-512 VPCLMULQDQ (about 16 bytes per cycle) for inputs of 256 bytes and more where the
// CPU has it, else the SSE4.2 crc32 instruction (three interleaved streams, about 3 bytes per
// cycle), else slicing-by-8 tables; all give identical results (RFC 3720 test vectors and
// cross-checks in frame_test.cc).
// Debian's Abseil (20220623) predates absl/crc, hence this file. Thread-safe, non-blocking.
#ifndef CROSSLINK_COLLECTIVES_TRANSPORT_CRC32C_H_
#define CROSSLINK_COLLECTIVES_TRANSPORT_CRC32C_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

namespace crosslink::collectives {

// CRC32C of `data`. `crc` continues a previous result, so that a payload received in pieces can
// be checked piece by piece: Crc32c(b, Crc32c(a)) == Crc32c(a + b).
uint32_t Crc32c(absl::Span<const std::byte> data, uint32_t crc = 0);

// The portable implementation, exposed so tests can compare it with the hardware one.
uint32_t Crc32cPortable(absl::Span<const std::byte> data, uint32_t crc = 0);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_TRANSPORT_CRC32C_H_
