// Fuzzes what a receiver thread does with the bytes of a TCP or shared-memory stream: decode a
// 48-byte frame header (DecodeFrameHeader), claim a buffer for its payload (FrameMatcher::Claim:
// a posted receive or an unexpected-message buffer, within FrameLimits), check the payload's
// CRC32C and deliver it, while the owner posts receives (Recv / RecvAllocated) in between.
//
// Input: the front bytes are the stream; the back bytes are the fuzzer's choices per frame (how
// many receives to post first and their sizes, and whether to repair the header's job id and
// checksums, so that frames get past the checks into the matcher).
//
// Properties checked: nothing crashes or leaks; receives complete in post order with the frames
// in stream order, each carrying exactly the bytes sent; a receive that fails does so only after
// the connection's status became an error; after Fail every posted receive is complete.
#include <deque>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "crosslink/collectives/transport/crc32c.h"
#include "crosslink/collectives/transport/frame.h"
#include "frame_matcher.h"
#include "fuzz_input.h"

namespace {

using crosslink::collectives::Crc32c;
using crosslink::collectives::DecodeFrameHeader;
using crosslink::collectives::FrameHeader;
using crosslink::collectives::kFrameHeaderBytes;
using crosslink::collectives::RecvHandle;
using crosslink::collectives::transport_internal::FrameLimits;
using crosslink::collectives::transport_internal::FrameMatcher;
using crosslink::fuzz::FuzzInput;

constexpr uint64_t kJobId = 0x5EED;

struct Posted {
  std::shared_ptr<RecvHandle> handle;
  std::vector<std::byte> buffer;                      // Recv's buffer
  std::shared_ptr<std::vector<std::byte>> allocated;  // RecvAllocated's
};

struct Sent {
  FrameHeader header;
  std::vector<std::byte> payload;
};

void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void PostSome(FuzzInput& in, FrameMatcher& matcher, std::deque<std::unique_ptr<Posted>>& posted,
              int count) {
  for (int i = 0; i < count; ++i) {
    auto p = std::make_unique<Posted>();
    const uint8_t how = in.Choice();
    if (how & 1) {
      p->allocated = std::make_shared<std::vector<std::byte>>();
      p->handle = matcher.RecvAllocated(p->allocated);
    } else {
      p->buffer.resize(in.ChoiceUpTo(4096));
      p->handle = matcher.Recv(absl::MakeSpan(p->buffer));
    }
    posted.push_back(std::move(p));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  // Limits far below the defaults, so that the fuzzer reaches them with small inputs.
  FrameLimits limits;
  limits.max_frame_bytes = 1 << 16;
  limits.max_unexpected_bytes = 1 << 17;
  int on_fail_runs = 0;
  FrameMatcher matcher(
      std::make_shared<const std::string>("fuzz connection"), [&on_fail_runs] { ++on_fail_runs; },
      limits);
  std::deque<std::unique_ptr<Posted>> posted;
  std::vector<Sent> delivered;  // frames that passed every check, in stream order

  while (in.remaining() >= kFrameHeaderBytes && !matcher.failed()) {
    const uint8_t choice = in.Choice();
    PostSome(in, matcher, posted, choice & 3);
    size_t got = 0;
    const uint8_t* raw = in.TakeFront(kFrameHeaderBytes, &got);
    if (got < kFrameHeaderBytes) break;
    uint8_t header_bytes[kFrameHeaderBytes];
    std::memcpy(header_bytes, raw, kFrameHeaderBytes);
    uint64_t length = 0;
    for (int i = 0; i < 8; ++i) length |= uint64_t{header_bytes[32 + i]} << (8 * i);
    const size_t available = in.remaining();
    const size_t payload_size = length < available ? static_cast<size_t>(length) : available;
    size_t payload_got = 0;
    const uint8_t* payload_ptr = in.TakeFront(payload_size, &payload_got);
    const auto payload_span =
        absl::MakeConstSpan(reinterpret_cast<const std::byte*>(payload_ptr), payload_got);
    if (choice & 4) {  // the job this connection belongs to
      for (int i = 0; i < 8; ++i) header_bytes[8 + i] = static_cast<uint8_t>(kJobId >> (8 * i));
    }
    if (choice & 8) Put32(header_bytes + 40, Crc32c(payload_span));
    if (choice & 16) {
      Put32(header_bytes + 44,
            Crc32c(absl::MakeConstSpan(reinterpret_cast<const std::byte*>(header_bytes), 44)));
    }
    absl::StatusOr<FrameHeader> header = DecodeFrameHeader(
        absl::MakeConstSpan(reinterpret_cast<const std::byte*>(header_bytes), kFrameHeaderBytes),
        kJobId, "fuzz connection");
    if (!header.ok()) {
      CROSSLINK_FUZZ_CHECK(header.status().code() == absl::StatusCode::kInvalidArgument ||
                           header.status().code() == absl::StatusCode::kDataLoss);
      matcher.Fail(header.status());
      break;
    }
    CROSSLINK_FUZZ_CHECK(header->job_id == kJobId);
    std::optional<FrameMatcher::Arrival> arrival = matcher.Claim(*header, absl::ZeroDuration());
    if (!arrival.has_value()) {
      CROSSLINK_FUZZ_CHECK(matcher.failed());
      break;
    }
    if (payload_got < header->length) {  // the stream ended inside the payload
      matcher.FailArrival(std::move(*arrival), absl::UnavailableError("fuzz stream ended"));
      break;
    }
    if (payload_got > 0) std::memcpy(arrival->data(), payload_ptr, payload_got);
    const absl::Status crc = crosslink::collectives::CheckPayload(*header, payload_span, "fuzz");
    if (!crc.ok()) {
      CROSSLINK_FUZZ_CHECK(crc.code() == absl::StatusCode::kDataLoss);
      matcher.FailArrival(std::move(*arrival), crc);
      break;
    }
    matcher.Deliver(std::move(*arrival));
    delivered.push_back(
        Sent{*header, std::vector<std::byte>(payload_span.begin(), payload_span.end())});
    // Receives posted after some frames arrived drain the unexpected queue in order.
    if (choice & 32) PostSome(in, matcher, posted, 1 + (choice >> 6));
  }

  // Receives complete in post order with frames in stream order.
  size_t next = 0;
  for (const auto& p : posted) {
    if (!p->handle->Done()) continue;
    const absl::Status status = p->handle->Wait(absl::InfinitePast());
    if (!status.ok()) {
      CROSSLINK_FUZZ_CHECK(!matcher.status().ok());
      continue;
    }
    CROSSLINK_FUZZ_CHECK(next < delivered.size());
    const Sent& sent = delivered[next++];
    const FrameHeader& h = p->handle->header();
    CROSSLINK_FUZZ_CHECK(h.sequence == sent.header.sequence && h.chunk == sent.header.chunk &&
                         h.tag == sent.header.tag && h.length == sent.payload.size());
    const std::byte* got = p->allocated != nullptr ? p->allocated->data() : p->buffer.data();
    if (!sent.payload.empty()) {
      CROSSLINK_FUZZ_CHECK(std::memcmp(got, sent.payload.data(), sent.payload.size()) == 0);
    }
  }
  CROSSLINK_FUZZ_CHECK(on_fail_runs == (matcher.failed() ? 1 : 0));
  // Closing completes every receive still posted.
  matcher.Fail(absl::UnavailableError("fuzz input ended"));
  CROSSLINK_FUZZ_CHECK(on_fail_runs == 1);
  for (const auto& p : posted) CROSSLINK_FUZZ_CHECK(p->handle->Done());
  return 0;
}
