// ErrorFeedback: one rank's quantisation residual for one gradient buffer, kept by the training
// program across steps so that a compressed allreduce loses nothing in the long run.
//
// What it holds: for every element of the buffer, what this rank's last encode of that element
// rounded away (wire_codec.h). A compressed allreduce encodes each element exactly once per rank
// (ring: this rank's own block, each partial sum it forwards, and, as owner, the final value;
// tree: the partial sum it passes up, or the final value at the root), and with an ErrorFeedback
// it encodes v = value + residual and keeps v - decoded(v) for the next step. Every rounding
// error of every hop is therefore re-injected one step later, and over K steps
//   sum_k result_k = sum_k exact_k + sum_r (e_r,0 - e_r,K)   (up to float32 addition rounding),
// so the mean error per step falls like 1/K instead of staying at one step's error.
//
// Use one object per (rank, buffer) and pass the same one to every step's allreduce of that
// buffer. It starts at zero and restarts from zero when the element count or the compression
// changes. Thread-safety: not thread-safe; one collective at a time may use it. Units: the
// buffer's own (float32 values).
#ifndef CROSSLINK_COLLECTIVES_COMPRESSION_ERROR_FEEDBACK_H_
#define CROSSLINK_COLLECTIVES_COMPRESSION_ERROR_FEEDBACK_H_

#include <algorithm>
#include <cstddef>
#include <vector>

#include "absl/types/span.h"
#include "crosslink/collectives/compression/wire_compression.h"

namespace crosslink::collectives {

class ErrorFeedback {
 public:
  ErrorFeedback() = default;

  // The residual of a `count`-element buffer under `compression`, zeroed first when either
  // differs from the previous call's. For the executor; callers normally only pass the object.
  float* Prepare(size_t count, WireCompression compression) {
    if (count != residual_.size() || compression != compression_) {
      residual_.assign(count, 0.0f);
      compression_ = compression;
    }
    return residual_.data();
  }

  // The current residual (empty before the first compressed collective).
  absl::Span<const float> residual() const { return residual_; }

  // Forgets the residual (e.g. after the model was reloaded).
  void Reset() { std::fill(residual_.begin(), residual_.end(), 0.0f); }

 private:
  std::vector<float> residual_;
  WireCompression compression_ = WireCompression::kNone;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COMPRESSION_ERROR_FEEDBACK_H_
