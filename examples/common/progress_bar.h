// ProgressBar: what rank 0 of an example training job shows on stderr while an epoch runs.
//
// A bar redrawn in place ("\r") when stderr is a terminal; otherwise one line per tenth of the
// epoch, so the logs of batch jobs (Slurm, Kubernetes, crosslink-run's prefixed output) stay
// readable. Blocking: writes to stderr. Not thread-safe: one bar per training thread.
#ifndef CROSSLINK_EXAMPLES_COMMON_PROGRESS_BAR_H_
#define CROSSLINK_EXAMPLES_COMMON_PROGRESS_BAR_H_

#include <cstdint>

namespace crosslink::examples {

class ProgressBar {
 public:
  ProgressBar(int epoch, int64_t total_steps);
  // After step `step` (1-based) with the running mean loss of the epoch.
  void Update(int64_t step, double mean_loss);
  // Ends the bar's line.
  void Finish();

 private:
  int epoch_;
  int64_t total_steps_;
  bool tty_;
  int last_tenth_ = 0;
};

}  // namespace crosslink::examples

#endif  // CROSSLINK_EXAMPLES_COMMON_PROGRESS_BAR_H_
