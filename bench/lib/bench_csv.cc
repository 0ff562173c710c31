#include "bench/lib/bench_csv.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crosslink::bench {

std::string BenchCsvHeader() {
  return "bytes,time_us,algbw_gbs,busbw_gbs,wrong,bound_ratio,bound_us,count,type,redop,outages,"
         "resent,participants,ranks,impl,bound_kind";
}

std::string BenchCsvLine(const BenchRow& r) {
  return absl::StrFormat("%d,%.3f,%.6f,%.6f,%d,%.6f,%.3f,%d,%s,%s,%d,%s,%s,%d,%s,%s", r.bytes,
                         r.time_us, r.algbw_gbs, r.busbw_gbs, r.wrong, r.bound_ratio, r.bound_us,
                         r.count, r.type, r.redop, r.outages,
                         r.resent.has_value() ? absl::StrCat(*r.resent) : std::string(),
                         r.participants.has_value() ? absl::StrCat(*r.participants) : std::string(),
                         r.ranks, r.impl, r.bound_kind);
}

absl::Status WriteBenchCsv(const std::filesystem::path& path, const std::vector<BenchRow>& rows) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat("cannot write CSV ", path.string(), ": ", std::strerror(errno)));
  }
  out << BenchCsvHeader() << "\n";
  for (const BenchRow& row : rows) out << BenchCsvLine(row) << "\n";
  out.close();
  if (!out) {
    return absl::UnavailableError(absl::StrCat("error writing CSV ", path.string()));
  }
  return absl::OkStatus();
}

}  // namespace crosslink::bench
