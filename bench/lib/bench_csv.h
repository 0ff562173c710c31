// CSV form of crosslink-bench's rows, for plots and for comparing runs. One header line, then one
// line per row. Columns (in this order):
//   bytes,time_us,algbw_gbs,busbw_gbs,wrong,bound_ratio,bound_us,count,type,redop,outages,
//   resent_bytes,participants,ranks,impl
// impl is "crosslink" or "gloo"; resent_bytes and participants are empty when not tracked.
// GB/s is 10^9 bytes/s. Thread-compatible.
#ifndef CROSSLINK_BENCH_LIB_BENCH_CSV_H_
#define CROSSLINK_BENCH_LIB_BENCH_CSV_H_

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/lib/report_table.h"

namespace crosslink::bench {

// The header line, without the newline.
std::string BenchCsvHeader();
// One row as a CSV line, without the newline.
std::string BenchCsvLine(const BenchRow& row);
// Writes header and rows to `path` (overwrites). kUnavailable naming the path when it cannot be
// written.
absl::Status WriteBenchCsv(const std::filesystem::path& path, const std::vector<BenchRow>& rows);

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_BENCH_CSV_H_
