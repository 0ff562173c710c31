// BitErrorProcess: when a crosslink corrupts a message in flight. Radiation and a marginal optical
// budget flip bits on a real laser link now and then; the transport's CRC32C must catch every such
// message (kDataLoss naming the link), so that no collective ever returns a wrong result. The
// process is a Poisson process in orbit time: corruption instants whose gaps are exponential with
// mean `mtbf_s`, fixed by (seed, link) alone, so that the same scenario and seed corrupt the same
// instants on every run and for every emulator of that link (the emulator a resumed link makes
// continues the same schedule). The link emulator corrupts the first message whose last byte
// leaves at or after an instant, then skips to the first instant after that message: over a busy
// link the corruptions then arrive at about one per mtbf_s.
//
// The instants are drawn block by block (blocks of kBlockMtbfs * mtbf_s orbit seconds, each with
// its own stream seeded from (seed, link, block index); Poisson processes on disjoint intervals
// join into one), so a process that starts late in an orbit (a link resumed after hours) gets
// there in constant time. Which bit to flip is a hash of the instant that hit the message. Not
// thread-safe (the emulator holds its mutex); copyable.
#ifndef CROSSLINK_COLLECTIVES_EMULATION_BIT_ERROR_PROCESS_H_
#define CROSSLINK_COLLECTIVES_EMULATION_BIT_ERROR_PROCESS_H_

#include <cstddef>
#include <cstdint>
#include <random>
#include <string_view>

namespace crosslink::collectives {

// One byte of a message to corrupt: payload[offset] ^= mask (mask != 0).
struct ByteFlip {
  size_t offset = 0;
  uint8_t mask = 1;
};

class BitErrorProcess {
 public:
  // `mtbf_s` > 0 (orbit seconds); `link` names the link and direction (a timeline's Describe()).
  // Instants before `start_s` (the orbit time the emulator starts at) are skipped.
  BitErrorProcess(uint64_t seed, std::string_view link, double mtbf_s, double start_s = 0);

  // Orbit time of the next corruption instant not yet consumed.
  double next_s() const { return next_s_; }
  // Whether a message whose last byte leaves at orbit time `end_s` is corrupted. When it is,
  // every instant up to `end_s` is consumed (one message carries one corruption) and the flip for
  // a payload of `payload_bytes` (> 0) is returned in *flip.
  bool Corrupts(double end_s, size_t payload_bytes, ByteFlip* flip);

  // Mean gaps per block: enough that a block's set-up is rare, few enough that skipping into a
  // block costs little.
  static constexpr double kBlockMtbfs = 64;

 private:
  // Moves next_s_ to the first instant strictly after `t_s`.
  void SkipPast(double t_s);
  void StartBlock(int64_t block);
  double Gap();

  uint64_t link_seed_;
  double mtbf_s_;
  double block_s_;
  int64_t block_ = 0;
  std::mt19937_64 rng_;
  double next_s_ = 0;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_EMULATION_BIT_ERROR_PROCESS_H_
