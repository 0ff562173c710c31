#include "hello_codec.h"

namespace crosslink::collectives::tcp_internal {

std::array<unsigned char, kHelloBytes> EncodeHello(const Hello& h) {
  std::array<unsigned char, kHelloBytes> out{};
  auto put = [&](size_t off, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; ++i) out[off + i] = static_cast<unsigned char>(v >> (8 * i));
  };
  put(0, kHelloMagic, 4);
  put(4, kHelloVersion, 2);
  put(6, h.verdict, 2);
  put(8, h.job_id, 8);
  put(16, h.rank, 4);
  return out;
}

std::optional<Hello> DecodeHello(const std::array<unsigned char, kHelloBytes>& in) {
  auto get = [&](size_t off, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(in[off + i]) << (8 * i);
    return v;
  };
  if (get(0, 4) != kHelloMagic || get(4, 2) != kHelloVersion) return std::nullopt;
  return Hello{static_cast<uint16_t>(get(6, 2)), get(8, 8), static_cast<uint32_t>(get(16, 4))};
}

}  // namespace crosslink::collectives::tcp_internal
