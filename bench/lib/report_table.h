// One benchmark result row and the table crosslink-bench prints: nccl-tests' columns (size,
// count, type, redop, time, algbw, busbw, #wrong) followed by Crosslink's own (a lower bound
// on the time, the ratio to it, outages met, and optional chunks resent and participants).
//
// Units: GB/s is 10^9 bytes per second, never 2^30 (nccl-tests' convention; Gloo's benchmark
// divides by 2^30 and calls it GB/s, which overstates nothing but compares with nothing).
// busbw = algbw * 2(n-1)/n: the rate each rank's link must sustain for an allreduce, comparable
// across rank counts. Plain data and pure functions; thread-compatible.
#ifndef CROSSLINK_BENCH_LIB_REPORT_TABLE_H_
#define CROSSLINK_BENCH_LIB_REPORT_TABLE_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace crosslink::bench {

struct BenchRow {
  std::string impl = "crosslink";  // which implementation produced it: crosslink, gloo
  int ranks = 0;
  int64_t bytes = 0;
  int64_t count = 0;
  std::string type = "float";
  std::string redop = "sum";
  double time_us = 0;  // mean over the timed iterations
  double algbw_gbs = 0;
  double busbw_gbs = 0;
  int64_t wrong = 0;  // elements that differ from the expected result (summed over ranks)
  // The lower bound for this size: the ring bound (ring_bound.h) on ideal links, the oracle
  // (oracle_bound.h) on a scenario's; 0 when
  // none is known (then bound_ratio is 0 too). bound_kind says which: "ring", "oracle" or "".
  double bound_us = 0;
  double bound_ratio = 0;  // time_us / bound_us: 1.0 is perfect
  std::string bound_kind;
  int64_t outages = 0;              // link outages met during the timed iterations
  std::optional<int64_t> resent;    // chunks sent again after a link broke, summed, if tracked
  std::optional<int> participants;  // fewest ranks that took part in an iteration, if tracked
};

// bytes / time, in 10^9 bytes/s. 0 when time_us <= 0.
double AlgBandwidthGBs(int64_t bytes, double time_us);
// The allreduce bus bandwidth: algbw * 2(n-1)/n. 0 for one rank.
double AllreduceBusBandwidthGBs(double algbw_gbs, int ranks);

// Fills algbw, busbw and bound_ratio from bytes, time_us, ranks and bound_us.
void FillDerivedColumns(BenchRow& row);

// Prints rows as an aligned table with a header comment line naming the columns, like
// nccl-tests. The optional columns (resent, participants, bound: the bound's kind) are printed
// only when some row has them.
// `title` is printed as a leading "# " line when non-empty.
void PrintReportTable(std::ostream& out, const std::string& title,
                      const std::vector<BenchRow>& rows);

// "64M" style size for reports and file names; exact powers of 1024 only, else bytes.
std::string FormatSize(int64_t bytes);

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_REPORT_TABLE_H_
