#include "crosslink/collectives/transport/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
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

// Folding with carry-less multiplication (Intel, "Fast CRC Computation for Generic Polynomials
// Using PCLMULQDQ"), 64 bytes per instruction pair with AVX-512 VPCLMULQDQ: about 4x the three
// crc32 streams above on the same core, which matters because every payload byte is checksummed
// twice (send and receive) on CPUs that the kernel's copies already keep busy. Four 512-bit
// accumulators hide the multiplier's latency. A 128-bit block B of the (bit-reflected) message
// moved D bits later is B = H x^64 + L (H: its first 8 bytes) times x^D, congruent mod P to
// H (x^(D+32) mod P) x^32 + L (x^(D-32) mod P) x^32, a product that fits in 128 bits; in the
// reflected representation that is clmul(H, K(D+32)) ^ clmul(L, K(D-32)) with
// K(k) = reflect32(x^k mod P) << 1. The final 16 bytes are congruent to the whole message and
// the crc32 instruction reduces them.
uint64_t FoldConstant(int power) {
  uint32_t r = 0x80000000u;  // reflected "1"
  for (int i = 0; i < power; ++i) r = (r & 1) ? (r >> 1) ^ kPolyReflected : r >> 1;
  return static_cast<uint64_t>(r) << 1;
}

// {K(bits + 32), K(bits - 32)}: the low and high qword of a 128-bit constant that folds a lane
// `bits` further along the message.
struct FoldPair {
  uint64_t lo, hi;
  explicit FoldPair(int bits) : lo(FoldConstant(bits + 32)), hi(FoldConstant(bits - 32)) {}
};

struct FoldConstants {
  FoldPair k128{128}, k256{256}, k384{384}, k512{512}, k2048{2048};
};

__attribute__((target("pclmul,sse4.2"))) inline __m128i Load(const FoldPair& k) {
  return _mm_set_epi64x(static_cast<long long>(k.hi), static_cast<long long>(k.lo));
}

__attribute__((target("avx512f,avx512bw,avx512vl,vpclmulqdq,pclmul,sse4.2"))) inline __m512i
Fold512(__m512i acc, __m512i k, __m512i data) {
  const __m512i lo = _mm512_clmulepi64_epi128(acc, k, 0x00);
  const __m512i hi = _mm512_clmulepi64_epi128(acc, k, 0x11);
  return _mm512_ternarylogic_epi64(lo, hi, data, 0x96);  // lo ^ hi ^ data
}

__attribute__((target("pclmul,sse4.2"))) inline __m128i Fold128(__m128i acc, __m128i k,
                                                                __m128i data) {
  const __m128i lo = _mm_clmulepi64_si128(acc, k, 0x00);
  const __m128i hi = _mm_clmulepi64_si128(acc, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), data);
}

constexpr size_t kFoldMinBytes = 256;

// Requires n >= kFoldMinBytes.
__attribute__((target("avx512f,avx512bw,avx512vl,vpclmulqdq,pclmul,sse4.2"))) uint32_t RawFold(
    const unsigned char* p, size_t n, uint32_t crc) {
  static const FoldConstants constants;
  const __m128i k128 = Load(constants.k128);
  const __m128i k256 = Load(constants.k256);
  const __m128i k384 = Load(constants.k384);
  const __m512i k512 = _mm512_broadcast_i32x4(Load(constants.k512));
  const __m512i k2048 = _mm512_broadcast_i32x4(Load(constants.k2048));
  __m512i a0 = _mm512_loadu_si512(p);
  __m512i a1 = _mm512_loadu_si512(p + 64);
  __m512i a2 = _mm512_loadu_si512(p + 128);
  __m512i a3 = _mm512_loadu_si512(p + 192);
  a0 = _mm512_xor_si512(a0, _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(crc))));
  p += 256;
  n -= 256;
  while (n >= 256) {
    a0 = Fold512(a0, k2048, _mm512_loadu_si512(p));
    a1 = Fold512(a1, k2048, _mm512_loadu_si512(p + 64));
    a2 = Fold512(a2, k2048, _mm512_loadu_si512(p + 128));
    a3 = Fold512(a3, k2048, _mm512_loadu_si512(p + 192));
    p += 256;
    n -= 256;
  }
  __m512i a = Fold512(a0, k512, a1);
  a = Fold512(a, k512, a2);
  a = Fold512(a, k512, a3);
  while (n >= 64) {
    a = Fold512(a, k512, _mm512_loadu_si512(p));
    p += 64;
    n -= 64;
  }
  __m128i x = Fold128(_mm512_extracti32x4_epi32(a, 0), k384, _mm512_extracti32x4_epi32(a, 3));
  x = Fold128(_mm512_extracti32x4_epi32(a, 1), k256, x);
  x = Fold128(_mm512_extracti32x4_epi32(a, 2), k128, x);
  while (n >= 16) {
    x = Fold128(x, k128, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    p += 16;
    n -= 16;
  }
  alignas(16) unsigned char last[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(last), x);
  return RawHwSerial(p, n, RawHwSerial(last, 16, 0));
}

bool HaveVpclmul() {
  static const bool have =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("vpclmulqdq") &&
      __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

}  // namespace

uint32_t Crc32cPortable(absl::Span<const std::byte> data, uint32_t crc) {
  return ~RawPortable(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ~crc);
}

uint32_t Crc32c(absl::Span<const std::byte> data, uint32_t crc) {
#if defined(__x86_64__)
  if (data.size() >= kFoldMinBytes && HaveVpclmul()) {
    return ~RawFold(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ~crc);
  }
  if (HaveSse42()) {
    return ~RawHw(reinterpret_cast<const unsigned char*>(data.data()), data.size(), ~crc);
  }
#endif
  return Crc32cPortable(data, crc);
}

}  // namespace crosslink::collectives
