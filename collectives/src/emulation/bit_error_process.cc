#include "crosslink/collectives/emulation/bit_error_process.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace crosslink::collectives {
namespace {

// splitmix64's finaliser, so that nearby inputs give unrelated streams.
uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// FNV-1a of the link's name mixed with the seed: every link and direction draws its own stream
// from one scenario seed.
uint64_t LinkSeed(uint64_t seed, std::string_view link) {
  uint64_t h = 14695981039346656037ull;
  for (char c : link) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return Mix(h ^ Mix(seed));
}

}  // namespace

BitErrorProcess::BitErrorProcess(uint64_t seed, std::string_view link, double mtbf_s,
                                 double start_s)
    : link_seed_(LinkSeed(seed, link)), mtbf_s_(mtbf_s), block_s_(kBlockMtbfs * mtbf_s) {
  StartBlock(static_cast<int64_t>(std::floor(start_s / block_s_)));
  // Instants before start_s belong to a past this emulator never saw.
  if (next_s_ < start_s)
    SkipPast(std::nextafter(start_s, -std::numeric_limits<double>::infinity()));
}

// Exponential by inversion on the raw 64-bit stream: std::exponential_distribution's algorithm is
// the library's choice, and the schedule must be the same wherever the scenario is played.
double BitErrorProcess::Gap() {
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;  // [0, 1)
  return -mtbf_s_ * std::log1p(-u);
}

void BitErrorProcess::StartBlock(int64_t block) {
  // Each block's first instant follows its start by an exponential gap; a block without an
  // instant hands over to the next.
  for (;; ++block) {
    block_ = block;
    rng_.seed(Mix(link_seed_ ^ Mix(static_cast<uint64_t>(block))));
    next_s_ = static_cast<double>(block) * block_s_ + Gap();
    if (next_s_ < static_cast<double>(block + 1) * block_s_) return;
  }
}

void BitErrorProcess::SkipPast(double t_s) {
  const int64_t target = static_cast<int64_t>(std::floor(t_s / block_s_));
  if (target > block_) StartBlock(target);
  while (next_s_ <= t_s) {
    next_s_ += Gap();
    if (next_s_ >= static_cast<double>(block_ + 1) * block_s_) StartBlock(block_ + 1);
  }
}

bool BitErrorProcess::Corrupts(double end_s, size_t payload_bytes, ByteFlip* flip) {
  if (payload_bytes == 0 || next_s_ > end_s) return false;
  // The flip comes from the instant that hit the message, not from the instants' stream, which
  // must not depend on how many messages were hit (a late starter has seen fewer).
  uint64_t instant_bits = 0;
  static_assert(sizeof(instant_bits) == sizeof(next_s_));
  std::memcpy(&instant_bits, &next_s_, sizeof(instant_bits));
  const uint64_t h = Mix(link_seed_ ^ Mix(instant_bits));
  SkipPast(end_s);
  flip->offset = static_cast<size_t>(h % payload_bytes);
  flip->mask = static_cast<uint8_t>(1u << ((h >> 58) % 8));  // one bit, as radiation flips one
  return true;
}

}  // namespace crosslink::collectives
