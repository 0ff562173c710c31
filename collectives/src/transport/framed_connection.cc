#include "framed_connection.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crosslink/collectives/transport/frame.h"

namespace crosslink::collectives::transport_internal {

FramedConnection::FramedConnection(std::string describe, std::function<void()> on_fail)
    : describe_(std::make_shared<const std::string>(std::move(describe))),
      matcher_(describe_, std::move(on_fail)) {}

std::shared_ptr<Handle> FramedConnection::Send(const FrameHeader& header,
                                               absl::Span<const std::byte> payload) {
  return matcher_.Send(header, payload);
}

std::shared_ptr<Handle> FramedConnection::SendWithCrc(const FrameHeader& header,
                                                      absl::Span<const std::byte> payload,
                                                      uint32_t payload_crc32c) {
  return matcher_.SendWithCrc(header, payload, payload_crc32c);
}

std::shared_ptr<RecvHandle> FramedConnection::Recv(absl::Span<std::byte> buffer) {
  return matcher_.Recv(buffer);
}

std::shared_ptr<RecvHandle> FramedConnection::RecvAllocated(
    std::shared_ptr<std::vector<std::byte>> out) {
  return matcher_.RecvAllocated(std::move(out));
}

std::shared_ptr<RecvHandle> FramedConnection::RecvPieces(uint64_t max_bytes,
                                                         std::shared_ptr<PieceSink> sink) {
  return matcher_.RecvPieces(max_bytes, std::move(sink));
}

std::byte* FramedConnection::SinkScratch(size_t configured, size_t* piece_bytes) {
  const size_t bytes = std::max<size_t>(64, configured & ~size_t{63});
  if (sink_scratch_bytes_ != bytes) {
    sink_scratch_ = std::make_unique<std::byte[]>(bytes);
    sink_scratch_bytes_ = bytes;
  }
  *piece_bytes = bytes;
  return sink_scratch_.get();
}

void FramedConnection::Close(absl::Status reason) {
  if (reason.ok()) reason = absl::UnavailableError(absl::StrCat(*describe_, ": closed"));
  matcher_.Fail(std::move(reason));
}

absl::Status FramedConnection::status() const { return matcher_.status(); }

void FramedConnection::CorruptNextReceiveForTesting() { matcher_.CorruptNextReceiveForTesting(); }

std::optional<FrameMatcher::Arrival> FramedConnection::DecodeAndClaim(
    absl::Span<const std::byte> raw_header, uint64_t job_id, FrameHeader* header) {
  absl::StatusOr<FrameHeader> decoded = DecodeFrameHeader(raw_header, job_id, *describe_);
  if (!decoded.ok()) {
    matcher_.Fail(decoded.status());
    return std::nullopt;
  }
  *header = *decoded;
  return matcher_.Claim(*header, kUnexpectedWait);
}

}  // namespace crosslink::collectives::transport_internal
