// CSV form of crosslink-bench's rows, for plots and for comparing runs. One header line, then one
// line per row. Columns (in this order):
//   bytes,time_us,algbw_gbs,busbw_gbs,wrong,bound_ratio,bound_us,count,type,redop,outages,
//   resent,participants,ranks,impl,bound_kind
// impl is "crosslink" or "gloo"; resent (chunks sent again, summed over ranks and iterations) and
// participants (the fewest in an iteration) are empty when not tracked; bound_kind is "ring",
// "oracle" or empty (report_table.h). New columns are appended, so readers by position still work.
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
