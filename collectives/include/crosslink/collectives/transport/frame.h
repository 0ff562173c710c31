// The wire frame: a fixed 48-byte little-endian header in front of every payload.
//
//   offset size field
//        0    4 magic "XLNK" (0x4B4E4C58)     24    4 chunk
//        4    2 version (1)                   28    4 tag
//        6    2 reserved, zero                32    8 length (payload bytes)
//        8    8 job_id                        40    4 crc32c of the payload
//       16    8 sequence                      44    4 crc32c of bytes 0..43 (the header itself)
//
// The header checksum catches a corrupted length before a receiver trusts it with a buffer.
// Pure functions: thread-safe, non-blocking.
#ifndef CROSSLINK_COLLECTIVES_TRANSPORT_FRAME_H_
#define CROSSLINK_COLLECTIVES_TRANSPORT_FRAME_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

inline constexpr uint32_t kFrameMagic = 0x4B4E4C58;  // "XLNK" in little-endian byte order
inline constexpr uint16_t kFrameVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 48;

using EncodedFrameHeader = std::array<std::byte, kFrameHeaderBytes>;

// Encodes `header` as it is (length and crc32c included: the caller fills them in).
EncodedFrameHeader EncodeFrameHeader(const FrameHeader& header);

// Decodes and validates a header received on `where` (a Connection::Describe() string, used in
// messages). kInvalidArgument for a wrong size, bad magic, unknown version, non-zero reserved
// bits, or a job id other than `expected_job_id`; kDataLoss when the header checksum fails.
absl::StatusOr<FrameHeader> DecodeFrameHeader(absl::Span<const std::byte> bytes,
                                              uint64_t expected_job_id, std::string_view where);

// Checks `payload` against header.length and header.crc32c: kDataLoss naming `where`, the
// sequence, chunk and both checksums when they differ.
absl::Status CheckPayload(const FrameHeader& header, absl::Span<const std::byte> payload,
                          std::string_view where);
// Same, for a payload whose CRC was computed piece by piece while it arrived.
absl::Status CheckPayloadCrc(const FrameHeader& header, uint32_t actual_crc32c,
                             std::string_view where);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_TRANSPORT_FRAME_H_
