// The Gloo baseline of crosslink-bench: Gloo's ring allreduce (gloo::allreduce with
// AllreduceOptions::Algorithm::RING, the one PyTorch's Gloo process group uses for host tensors)
// among the same local ranks, over the same sizes and iterations, so that the two rows in the
// table differ only in the library. Each rank process calls RunGlooAllreduce with the same
// options except `rank`; ranks meet through a gloo::rendezvous::FileStore in a folder they share
// and connect Gloo's own TCP transport on 127.0.0.1.
//
// Collective and blocking: every rank must call it; it returns when every size is done. Not
// thread-safe against itself (one call per process at a time). Gloo reports failures by throwing;
// they come back as kUnavailable (I/O, a peer gone) or kDeadlineExceeded (Gloo's timeout), naming
// the rank and the size.
#ifndef CROSSLINK_BENCH_LIB_GLOO_BASELINE_H_
#define CROSSLINK_BENCH_LIB_GLOO_BASELINE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace crosslink::bench {

struct GlooBaselineOptions {
  int rank = 0;
  int world_size = 1;
  // A folder every rank can read and write; the FileStore's keys live there. Created if missing.
  std::filesystem::path store_dir;
  // Distinguishes runs that share store_dir (keys are prefixed with it); same on every rank.
  std::string prefix = "gloo";
  std::vector<int64_t> sizes_bytes;  // multiples of sizeof(float)
  int iters = 20;
  int warmup = 5;
  // Gloo's timeout for the rendezvous and for each collective.
  absl::Duration timeout = absl::Seconds(60);
  std::string hostname = "127.0.0.1";
};

struct GlooSample {
  int64_t bytes = 0;
  double time_us = 0;  // mean time of one allreduce on this rank over the timed iterations
  int64_t wrong = 0;   // wrong elements in this rank's result of a separate checked allreduce
};

// Runs the baseline; one sample per size, in order. kInvalidArgument for bad options.
absl::StatusOr<std::vector<GlooSample>> RunGlooAllreduce(const GlooBaselineOptions& options);

// A connected Gloo context for callers that interleave Gloo's collectives with their own
// (crosslink-bench alternates timed rounds of both so that a change in the machine's load hits
// both alike). Connect is collective (every rank calls it with the same options but `rank`;
// sizes_bytes, iters and warmup are unused); so is every call after it, in the same order on
// every rank. Not thread-safe. Errors as for RunGlooAllreduce.
class GlooSession {
 public:
  static absl::StatusOr<std::unique_ptr<GlooSession>> Connect(const GlooBaselineOptions& options);
  ~GlooSession();

  // Gloo's ring allreduce (sum) of `data` in place.
  absl::Status Allreduce(absl::Span<float> data);
  absl::Status Barrier();

 private:
  struct State;
  explicit GlooSession(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_GLOO_BASELINE_H_
