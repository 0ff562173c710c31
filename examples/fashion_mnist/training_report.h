// What rank 0 of train_fashion_mnist shows and writes: a per-epoch progress bar on stderr, the
// per-epoch figures as CSV, and a PNG plot of loss and accuracy against wall time drawn by
// gnuplot, with the outages of rank 0's links shaded.
//
// Blocking: the writers block on the file system and, for the plot, on a gnuplot process.
// Errors: kUnavailable (a file cannot be written, gnuplot is missing or fails), naming the path.
// Not thread-safe.
#ifndef CROSSLINK_EXAMPLES_FASHION_MNIST_TRAINING_REPORT_H_
#define CROSSLINK_EXAMPLES_FASHION_MNIST_TRAINING_REPORT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace crosslink::examples {

// A bar redrawn in place ("\r") when stderr is a terminal; otherwise one line per tenth of the
// epoch, so logs of batch jobs stay readable.
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

struct EpochRecord {
  int epoch = 0;
  double wall_s = 0;  // since training started, at the end of this epoch (after the test pass)
  double epoch_wall_s = 0;
  double loss = 0;  // mean training loss over the epoch, over every rank
  double train_accuracy = 0;
  double test_accuracy = 0;
  int64_t outages = 0;  // outages rank 0's links met so far
};

// Header "epoch,wall_s,loss,train_acc,test_acc,outages" and one row per record.
absl::Status WriteCsv(const std::string& path, const std::vector<EpochRecord>& records);

// Loss (left axis) and train/test accuracy (right axis) against wall seconds. `outages_wall_s`
// are the [begin, end) wall-second intervals in which at least one of rank 0's links was down;
// `outage_note` goes into the title (how they were found, or why none are shown).
absl::Status WritePlot(const std::string& path, const std::vector<EpochRecord>& records,
                       const std::vector<std::pair<double, double>>& outages_wall_s,
                       const std::string& outage_note);

}  // namespace crosslink::examples

#endif  // CROSSLINK_EXAMPLES_FASHION_MNIST_TRAINING_REPORT_H_
