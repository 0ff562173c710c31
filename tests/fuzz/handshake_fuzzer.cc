// Fuzzes the decoder of the data-plane handshake: the first bytes any process that connects to a
// rank's listening port gets to send, read before anything about the peer is known.
//
// The decoder: the HMAC challenge-response handshake (collectives/src/transport/handshake.h).
//
// Properties checked: nothing crashes or reads past the input; what decodes re-encodes to the
// same bytes (nothing is accepted that the encoder would not produce, apart from fields a
// decoder is documented to ignore).
#include <array>
#include <cstring>

#include "absl/types/span.h"
#include "fuzz_input.h"
#include "handshake.h"

namespace {

void DecodeAndCheck(absl::Span<const std::byte> bytes) {
  namespace hs = crosslink::collectives::handshake;
  const absl::StatusOr<hs::Kind> kind = hs::DecodePrefix(bytes);
  const absl::StatusOr<hs::Message> message = hs::DecodeMessage(bytes);
  if (!message.ok()) return;
  CROSSLINK_FUZZ_CHECK(kind.ok());
  CROSSLINK_FUZZ_CHECK(bytes.size() == hs::MessageBytes(*kind));
  std::array<std::byte, hs::kMaxMessageBytes> out{};
  const size_t n = hs::EncodeMessage(*message, absl::MakeSpan(out));
  CROSSLINK_FUZZ_CHECK(n == bytes.size());
  CROSSLINK_FUZZ_CHECK(std::memcmp(out.data(), bytes.data(), n) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  DecodeAndCheck(absl::MakeConstSpan(reinterpret_cast<const std::byte*>(data), size));
  return 0;
}
