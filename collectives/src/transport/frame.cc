#include "crosslink/collectives/transport/frame.h"

#include <cstring>

#include "absl/strings/str_format.h"
#include "crosslink/collectives/transport/crc32c.h"

namespace crosslink::collectives {
namespace {

template <typename T>
void Put(std::byte* out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out[i] = static_cast<std::byte>((static_cast<uint64_t>(value) >> (8 * i)) & 0xFF);
  }
}

template <typename T>
T Get(const std::byte* in) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(in[i]) << (8 * i);
  return static_cast<T>(v);
}

constexpr size_t kHeaderCrcOffset = 44;

}  // namespace

EncodedFrameHeader EncodeFrameHeader(const FrameHeader& header) {
  EncodedFrameHeader out{};
  std::byte* p = out.data();
  Put<uint32_t>(p + 0, kFrameMagic);
  Put<uint16_t>(p + 4, kFrameVersion);
  Put<uint16_t>(p + 6, 0);
  Put<uint64_t>(p + 8, header.job_id);
  Put<uint64_t>(p + 16, header.sequence);
  Put<uint32_t>(p + 24, header.chunk);
  Put<uint32_t>(p + 28, header.tag);
  Put<uint64_t>(p + 32, header.length);
  Put<uint32_t>(p + 40, header.crc32c);
  Put<uint32_t>(p + kHeaderCrcOffset, Crc32c(absl::MakeConstSpan(p, kHeaderCrcOffset)));
  return out;
}

absl::StatusOr<FrameHeader> DecodeFrameHeader(absl::Span<const std::byte> bytes,
                                              uint64_t expected_job_id, std::string_view where) {
  if (bytes.size() != kFrameHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: frame header is %d bytes, expected %d",
                                                      where, bytes.size(), kFrameHeaderBytes));
  }
  const std::byte* p = bytes.data();
  const uint32_t magic = Get<uint32_t>(p);
  if (magic != kFrameMagic) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: bad frame magic 0x%08x (expected 0x%08x): the peer is not a "
                        "Crosslink transport or the stream is out of step",
                        where, magic, kFrameMagic));
  }
  const uint32_t header_crc = Get<uint32_t>(p + kHeaderCrcOffset);
  const uint32_t actual_header_crc = Crc32c(bytes.first(kHeaderCrcOffset));
  if (header_crc != actual_header_crc) {
    return absl::DataLossError(absl::StrFormat("%s: frame header checksum 0x%08x, computed 0x%08x",
                                               where, header_crc, actual_header_crc));
  }
  const uint16_t version = Get<uint16_t>(p + 4);
  if (version != kFrameVersion) {
    return absl::InvalidArgumentError(absl::StrFormat("%s: frame version %d, this build speaks %d",
                                                      where, version, kFrameVersion));
  }
  if (Get<uint16_t>(p + 6) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: reserved frame bits set (0x%04x)", where, Get<uint16_t>(p + 6)));
  }
  FrameHeader header;
  header.job_id = Get<uint64_t>(p + 8);
  header.sequence = Get<uint64_t>(p + 16);
  header.chunk = Get<uint32_t>(p + 24);
  header.tag = Get<uint32_t>(p + 28);
  header.length = Get<uint64_t>(p + 32);
  header.crc32c = Get<uint32_t>(p + 40);
  if (header.job_id != expected_job_id) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: frame of job %d arrived on a connection of job %d", where,
                        header.job_id, expected_job_id));
  }
  return header;
}

absl::Status CheckPayloadCrc(const FrameHeader& header, uint32_t actual_crc32c,
                             std::string_view where) {
  if (actual_crc32c == header.crc32c) return absl::OkStatus();
  return absl::DataLossError(absl::StrFormat(
      "%s: CRC32C mismatch on sequence %d chunk %d tag %d (%d bytes): sent 0x%08x, received "
      "0x%08x",
      where, header.sequence, header.chunk, header.tag, header.length, header.crc32c,
      actual_crc32c));
}

absl::Status CheckPayload(const FrameHeader& header, absl::Span<const std::byte> payload,
                          std::string_view where) {
  if (payload.size() != header.length) {
    return absl::DataLossError(
        absl::StrFormat("%s: payload of sequence %d chunk %d is %d bytes, header says %d", where,
                        header.sequence, header.chunk, payload.size(), header.length));
  }
  return CheckPayloadCrc(header, Crc32c(payload), where);
}

}  // namespace crosslink::collectives
