// The PNG next to crosslink-bench's table: bus bandwidth (GB/s, 10^9 bytes/s) against message
// size on a log-x axis, one line per implementation (crosslink, gloo), plus the ring bound's
// bus bandwidth when rows carry one. Drawn by gnuplot, run as a child process.
//
// Blocking: waits for gnuplot to finish. Thread-compatible (writes a script next to the output).
#ifndef CROSSLINK_BENCH_LIB_BENCH_PLOT_H_
#define CROSSLINK_BENCH_LIB_BENCH_PLOT_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/lib/report_table.h"

namespace crosslink::bench {

struct PlotOptions {
  std::filesystem::path png;  // output file
  std::string title;
  // gnuplot executable; found on PATH when relative.
  std::string gnuplot = "gnuplot";
};

// Writes `options.png`. The gnuplot script is kept beside it as <png>.gp (a user can re-run or
// edit it). kInvalidArgument when rows is empty; kUnavailable when gnuplot cannot be started or
// fails (its exit status in the message); kUnavailable naming the path when a file cannot be
// written.
absl::Status WriteBusBandwidthPlot(const PlotOptions& options, const std::vector<BenchRow>& rows);

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_BENCH_PLOT_H_
