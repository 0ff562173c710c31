// Internal: the TCP handshake message (tcp_context.cc) and its codec, apart from the socket code
// so that the decoder, which reads bytes from any process that connects, can be fuzzed alone
// (tests/fuzz/handshake_fuzzer.cc).
//
// One 24-byte message, both directions; little-endian:
//   magic u32 "XLHS", version u16 (1), verdict u16, job_id u64, rank u32, reserved u32.
// Pure functions: thread-safe, non-blocking.
#ifndef CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_HELLO_CODEC_H_
#define CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_HELLO_CODEC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace crosslink::collectives::tcp_internal {

inline constexpr uint32_t kHelloMagic = 0x53484C58;  // "XLHS"
inline constexpr uint16_t kHelloVersion = 1;
inline constexpr uint16_t kHelloAccepted = 0;
inline constexpr uint16_t kHelloWrongJob = 1;
inline constexpr size_t kHelloBytes = 24;

struct Hello {
  uint16_t verdict = kHelloAccepted;
  uint64_t job_id = 0;
  uint32_t rank = 0;
};

std::array<unsigned char, kHelloBytes> EncodeHello(const Hello& h);
// nullopt for a wrong magic or version; any verdict, job and rank decode (the caller judges them).
std::optional<Hello> DecodeHello(const std::array<unsigned char, kHelloBytes>& in);

}  // namespace crosslink::collectives::tcp_internal

#endif  // CROSSLINK_COLLECTIVES_SRC_TRANSPORT_TCP_HELLO_CODEC_H_
