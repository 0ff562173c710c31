#include "crosslink/collectives/transport/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace crosslink::collectives {
namespace {

constexpr uint32_t kPolyReflected = 0x82F63B78;  // Castagnoli, bit-reversed

struct SlicingTables {
  std::array<std::array<uint32_t, 256>, 8> t;
  SlicingTables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ ((c & 1) ? kPolyReflected : 0);
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
  }
};

const SlicingTables& Tables() {
  static const SlicingTables tables;
  return tables;
}

// Raw CRC register update (no pre/post inversion), slicing-by-8.
uint32_t RawPortable(const unsigned char* p, size_t n, uint32_t crc) {
  const auto& t = Tables().t;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // little-endian hosts only, as is every Crosslink target
    const uint32_t lo = static_cast<uint32_t>(word) ^ crc;
    const uint32_t hi = static_cast<uint32_t>(word >> 32);
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
  return crc;
}

#if defined(__x86_64__)
// Three streams of kBlock bytes run interleaved because the crc32 instruction has a latency of 3
// cycles and a throughput of 1: one dependent chain uses a third of the unit. The streams are
// joined by "shifting" a CRC over kBlock (or 2 kBlock) zero bytes, a linear map on 32 bits done
// with four 256-entry tables. 4 KiB blocks keep the join cost (8 lookups) under 1 %.
constexpr size_t kBlock = 4096;

__attribute__((target("sse4.2"))) uint32_t RawHwSerial(const unsigned char* p, size_t n,
                                                       uint32_t crc) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

// The linear map "append `zeros` zero bytes" on the raw CRC register, as byte-indexed tables.
struct ShiftTable {
  std::array<std::array<uint32_t, 256>, 4> t;
  explicit ShiftTable(size_t zeros) {
    static const std::array<unsigned char, 2 * kBlock> kZeros{};
    std::array<uint32_t, 32> column;
    for (int bit = 0; bit < 32; ++bit) {
      column[bit] = RawHwSerial(kZeros.data(), zeros, uint32_t{1} << bit);
    }
    for (int byte = 0; byte < 4; ++byte) {
      for (uint32_t v = 0; v < 256; ++v) {
        uint32_t r = 0;
        for (int bit = 0; bit < 8; ++bit) {
          if (v & (1u << bit)) r ^= column[byte * 8 + bit];
        }
        t[byte][v] = r;
      }
    }
  }
  uint32_t Apply(uint32_t crc) const {
    return t[0][crc & 0xFF] ^ t[1][(crc >> 8) & 0xFF] ^ t[2][(crc >> 16) & 0xFF] ^ t[3][crc >> 24];
  }
};

__attribute__((target("sse4.2"))) uint32_t RawHw(const unsigned char* p, size_t n, uint32_t crc) {
  static const ShiftTable shift1(kBlock);
  static const ShiftTable shift2(2 * kBlock);
  while (n >= 3 * kBlock) {
    uint64_t a = crc, b = 0, c = 0;
    const unsigned char* pa = p;
    const unsigned char* pb = p + kBlock;
    const unsigned char* pc = p + 2 * kBlock;
    for (size_t i = 0; i < kBlock; i += 8) {
      uint64_t wa, wb, wc;
      std::memcpy(&wa, pa + i, 8);
      std::memcpy(&wb, pb + i, 8);
      std::memcpy(&wc, pc + i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      c = _mm_crc32_u64(c, wc);
    }
    crc = shift2.Apply(static_cast<uint32_t>(a)) ^ shift1.Apply(static_cast<uint32_t>(b)) ^
          static_cast<uint32_t>(c);
    p += 3 * kBlock;
    n -= 3 * kBlock;
  }
  return RawHwSerial(p, n, crc);
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

}  // namespace

uint32_t Crc32cPortable(absl::Span<const std::byte> data, uint32_t crc) {
  return ~RawPortable(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ~crc);
}

uint32_t Crc32c(absl::Span<const std::byte> data, uint32_t crc) {
#if defined(__x86_64__)
  if (HaveSse42()) {
    return ~RawHw(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ~crc);
  }
#endif
  return Crc32cPortable(data, crc);
}

}  // namespace crosslink::collectives
