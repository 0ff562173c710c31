// LinkEmulator: a Connection that wraps another one and makes its outgoing direction behave like
// a crosslink whose truth a LinkTimeline gives, in wall time:
// - a message of L bytes occupies the link for L*8/rate_bps wall seconds (serialisation), FIFO:
//   the link is busy while one message serialises, and the next one starts after it;
// - it is delivered (handed to the wrapped connection) one one-way latency after its last byte
//   left. Latency is pipelined: a message in flight does not delay the next one's serialisation;
// - nothing passes while the link is down. OutageMode::kHold: the unsent bytes wait for the link
//   to come back and the message resumes where it stopped (an outage can fall mid-message);
//   OutageMode::kCut: the connection fails with kUnavailable naming the link and orbit time.
//   Re-acquisition after an outage is part of the timeline (a contact plan's kAcquiring is down).
// Orbit times of the timeline map to wall time through a ScenarioClock, so a time_scale > 1 plays
// outages faster; latency and rate are applied unscaled (they are physical properties).
//
// Wrap both ends of a connection to emulate both directions. The emulator schedules a message as
// it is sent (the timeline is known ahead) and a pump thread hands each to the wrapped
// connection at its delivery time; the Send handle completes once the wrapped send completes.
// SendWithCrc hands the caller's CRC32C on to the wrapped connection's SendWithCrc, so the
// emulated path checksums the payload no more often than the bare transport. Receives pass
// straight to the wrapped connection.
//
// Bit errors (LinkEmulatorOptions::corruption_mtbf_s > 0): a seeded BitErrorProcess per link and
// direction (bit_error_process.h) picks messages whose payload gets one bit flipped in flight,
// after the sender's CRC32C was taken (the caller's for SendWithCrc, the original bytes' for
// Send), so the receiver fails with kDataLoss naming the connection, as a real corrupted frame
// would; the caller's buffer is never touched (the corrupted copy is the emulator's).
//
// Thread-safe like any Connection. Owns the wrapped connection. Status codes: those of the
// wrapped connection, plus kUnavailable for a cut link; Wait's deadlines hold while a message is
// held by an outage (kDeadlineExceeded).
#ifndef CROSSLINK_COLLECTIVES_EMULATION_LINK_EMULATOR_H_
#define CROSSLINK_COLLECTIVES_EMULATION_LINK_EMULATOR_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crosslink/collectives/emulation/bit_error_process.h"
#include "crosslink/collectives/emulation/link_timeline.h"
#include "crosslink/collectives/emulation/scenario_clock.h"
#include "crosslink/collectives/transport/completion.h"
#include "crosslink/collectives/transport/test_hooks.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

enum class OutageMode { kHold, kCut };

struct LinkEmulatorOptions {
  OutageMode mode = OutageMode::kHold;
  // Rate and latency are re-read from the timeline at least every this many bytes, so a long
  // message follows a drifting rate; outages split a message exactly where they begin.
  size_t piece_bytes = 256 * 1024;
  // A timed wait wakes late by up to a few hundred microseconds on a busy machine, so the pump
  // sleeps until this long before a delivery and spins the rest (a 5 ms link then measures 5 ms,
  // not 5.3). Spinning burns a core for that long per message: where the host runs more ranks
  // than it has cores, the runtime sets zero (deliveries may then come a little late, which
  // makes the emulation pessimistic, never optimistic) so that emulation does not take CPU
  // from the ranks' computation (communicator.cc).
  absl::Duration spin_window = absl::Microseconds(500);
  // Mean orbit seconds between bit errors on this link ([faults] corruption_mtbf_s); 0: none.
  // The schedule is fixed by corruption_seed and the timeline's Describe() (the link and its
  // direction), so the same scenario corrupts the same instants on every run.
  double corruption_mtbf_s = 0;
  uint64_t corruption_seed = 1;
};

struct LinkEmulatorCounters {
  int64_t outages_met = 0;  // distinct outages that held (or cut) at least one message
  int64_t bytes_held = 0;   // unsent bytes of messages at the moment an outage held them
  absl::Duration time_held = absl::ZeroDuration();  // wall time messages spent held, summed
  int64_t corruptions = 0;  // messages whose payload the bit-error process corrupted
};

class LinkEmulator final : public Connection, public CorruptibleForTesting {
 public:
  LinkEmulator(std::unique_ptr<Connection> inner, std::shared_ptr<const LinkTimeline> timeline,
               std::shared_ptr<const ScenarioClock> clock, LinkEmulatorOptions options = {});
  ~LinkEmulator() override;

  std::shared_ptr<Handle> Send(const FrameHeader& header,
                               absl::Span<const std::byte> payload) override;
  std::shared_ptr<Handle> SendWithCrc(const FrameHeader& header,
                                      absl::Span<const std::byte> payload,
                                      uint32_t payload_crc32c) override;
  std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer) override;
  std::shared_ptr<RecvHandle> RecvAllocated(std::shared_ptr<std::vector<std::byte>> out) override;
  void Close(absl::Status reason = absl::OkStatus()) override;
  absl::Status status() const override;
  std::string Describe() const override { return describe_; }
  void CorruptNextReceiveForTesting() override;

  // Counted when a message is scheduled, which happens when it is sent (the timeline is known),
  // so they may run ahead of the wall clock by the messages still queued.
  LinkEmulatorCounters counters() const;

 private:
  struct Delivery {
    absl::Time due;
    FrameHeader header;
    absl::Span<const std::byte> payload;
    std::shared_ptr<Completion> completion;
    absl::Status cut;              // not OK: the link is cut at `due`; fail the connection then
    std::optional<uint32_t> crc;   // the caller's CRC32C of `payload` (SendWithCrc)
    std::optional<ByteFlip> flip;  // a bit error to apply in flight (corruption_mtbf_s)
  };

  // Send and SendWithCrc: schedules the message (or fails it with the sticky status).
  std::shared_ptr<Handle> Enqueue(const FrameHeader& header, absl::Span<const std::byte> payload,
                                  std::optional<uint32_t> crc);

  // Works out when the message's last byte leaves (holding across outages) or where it is cut.
  Delivery Schedule(const FrameHeader& header, absl::Span<const std::byte> payload,
                    std::shared_ptr<Completion> completion) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PumpLoop();
  // Hands `d` to the wrapped connection (a corrupted copy for a bit error) and waits for it.
  absl::Status Deliver(const Delivery& d);
  void Fail(absl::Status reason);

  const std::unique_ptr<Connection> inner_;
  const std::shared_ptr<const LinkTimeline> timeline_;
  const std::shared_ptr<const ScenarioClock> clock_;
  LinkEmulatorOptions options_;  // piece_bytes fixed up in the constructor
  const std::string describe_;
  const std::shared_ptr<const std::string> send_what_;

  mutable absl::Mutex mu_;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::deque<Delivery> queue_ ABSL_GUARDED_BY(mu_);  // ordered by due
  absl::Time busy_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_due_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool cut_scheduled_ ABSL_GUARDED_BY(mu_) = false;
  double last_outage_until_s_ ABSL_GUARDED_BY(mu_) = -1;
  LinkEmulatorCounters counters_ ABSL_GUARDED_BY(mu_);
  std::optional<BitErrorProcess> bit_errors_ ABSL_GUARDED_BY(mu_);  // corruption_mtbf_s > 0
  std::thread pump_;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_EMULATION_LINK_EMULATOR_H_
