// CollectiveOptions: what a caller may choose for one collective, the same struct for the
// collectives' entry points (collectives.h) and the runtime's Communicator (communicator.h, which
// calls it crosslink::runtime::CollectiveOptions). Every rank must pass the same values for the
// fields marked "every rank" (the executor detects a disagreement as kInvalidArgument).
//
// Thread-safety: a plain value type. Nothing here is computed when it is constructed: the
// deadline is fixed when the collective starts (Deadline()).
#ifndef CROSSLINK_COLLECTIVES_COLLECTIVE_OPTIONS_H_
#define CROSSLINK_COLLECTIVES_COLLECTIVE_OPTIONS_H_

#include <algorithm>
#include <cstddef>

#include "absl/time/time.h"
#include "crosslink/collectives/compression/error_feedback.h"
#include "crosslink/collectives/compression/wire_compression.h"
#include "crosslink/collectives/cost_model.h"

namespace crosslink::collectives {

// Largest message a plan cuts a block into, unless a caller asks otherwise. 512 KiB: big enough
// that per-message overhead (a header, a wake-up, ~10 µs) stays under 1% at 10 Gbit/s, small
// enough that a 4-rank ring of a 16 MiB buffer has 8 segments per block to pipeline.
inline constexpr size_t kDefaultMaxSegmentBytes = 512 << 10;

struct CollectiveOptions {
  // The collective fails with kDeadlineExceeded at min(deadline, start + timeout), so a forgotten
  // deadline never hangs a job.
  absl::Duration timeout = absl::Minutes(5);
  absl::Time deadline = absl::InfiniteFuture();
  // Allreduce only (every rank): kAuto picks ring or tree with the cost model (cost_model.h) from
  // the group's link hints (CollectiveContext::cost_hints, the same on every rank);
  // contact_aware follows the links as they change instead.
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto;
  // Largest message the plan sends (every rank); 0 takes kDefaultMaxSegmentBytes. Tests shrink
  // it to force many segments.
  size_t max_segment_bytes = 0;
  // Allreduce only (every rank), runtime Communicator with a scenario only: plan with the
  // contact-aware planner (contact_aware_planner.h) from the PREDICTED contact plan at an orbit
  // time all ranks agree on, which chooses the rank order (and ring or tree; `algorithm`
  // kRing/kTree forces the shape). Barrier with contact_aware runs as a contact-aware allreduce
  // of one value. Ignored by the other collectives, by the collectives' own entry points (they
  // have no agreement channel) and by jobs without a scenario (every link is alike).
  bool contact_aware = false;
  // Allreduce only (every rank): how float32 payloads travel (compression/wire_compression.h);
  // the other types travel as they are.
  WireCompression compression = WireCompression::kNone;
  // With compression: this rank's error-feedback residual for the buffer, kept by the caller
  // across steps, one per buffer (compression/error_feedback.h); nullptr: none. Borrowed.
  ErrorFeedback* error_feedback = nullptr;
  // Allreduce only, runtime Communicator only: 0 means every rank must take part. With
  // min_participants = k > 0, ranks that stay unreachable past the deadline are left out and the
  // reachable ones (at least k) finish among themselves (CollectiveStats::contributors); kAvg
  // then divides by the number of contributors. A rank left out gets kUnavailable with its buffer
  // unchanged; fewer than k reachable: kUnavailable on every rank naming the unreachable ones;
  // k above the world size: kInvalidArgument (runtime/src/communicator_partial.cc). The
  // collectives' own entry points reject k > 0 with kInvalidArgument.
  int min_participants = 0;
  // Device buffers (runtime/cuda/device_collectives.h): bytes per staged piece of an Allreduce or
  // Broadcast, 0 for kDeviceSegmentBytes (every rank).
  size_t device_stage_bytes = 0;

  // The absolute deadline of a collective that starts at `start`.
  absl::Time Deadline(absl::Time start) const { return std::min(deadline, start + timeout); }
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COLLECTIVE_OPTIONS_H_
