#include "bench/lib/report_table.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crosslink::bench {

double AlgBandwidthGBs(int64_t bytes, double time_us) {
  if (time_us <= 0) return 0.0;
  // bytes / (time_us * 1e-6 s) / 1e9 = bytes / time_us / 1e3.
  return static_cast<double>(bytes) / time_us / 1e3;
}

double AllreduceBusBandwidthGBs(double algbw_gbs, int ranks) {
  if (ranks <= 1) return 0.0;
  return algbw_gbs * 2.0 * (ranks - 1) / ranks;
}

void FillDerivedColumns(BenchRow& row) {
  row.algbw_gbs = AlgBandwidthGBs(row.bytes, row.time_us);
  row.busbw_gbs = AllreduceBusBandwidthGBs(row.algbw_gbs, row.ranks);
  row.bound_ratio = row.bound_us > 0 ? row.time_us / row.bound_us : 0.0;
}

std::string FormatSize(int64_t bytes) {
  if (bytes > 0 && bytes % (int64_t{1} << 30) == 0) return absl::StrCat(bytes >> 30, "G");
  if (bytes > 0 && bytes % (int64_t{1} << 20) == 0) return absl::StrCat(bytes >> 20, "M");
  if (bytes > 0 && bytes % (int64_t{1} << 10) == 0) return absl::StrCat(bytes >> 10, "K");
  return absl::StrCat(bytes);
}

void PrintReportTable(std::ostream& out, const std::string& title,
                      const std::vector<BenchRow>& rows) {
  const bool any_resent =
      std::any_of(rows.begin(), rows.end(), [](const BenchRow& r) { return r.resent.has_value(); });
  const bool any_participants = std::any_of(
      rows.begin(), rows.end(), [](const BenchRow& r) { return r.participants.has_value(); });
  const bool any_bound_kind = std::any_of(rows.begin(), rows.end(),
                                          [](const BenchRow& r) { return !r.bound_kind.empty(); });
  if (!title.empty()) out << "# " << title << "\n";
  std::string header =
      absl::StrFormat("#%9s %12s %12s %6s %6s %10s %11s %11s %8s %10s %11s %7s", "impl", "size",
                      "count", "type", "redop", "time(us)", "algbw(GB/s)", "busbw(GB/s)", "#wrong",
                      "bound_us", "bound_ratio", "outages");
  if (any_resent) absl::StrAppend(&header, absl::StrFormat(" %8s", "resent"));
  if (any_participants) absl::StrAppend(&header, absl::StrFormat(" %12s", "participants"));
  if (any_bound_kind) absl::StrAppend(&header, absl::StrFormat(" %6s", "bound"));
  out << header << "\n";
  for (const BenchRow& r : rows) {
    std::string line = absl::StrFormat(
        "%10s %12d %12d %6s %6s %10.1f %11.3f %11.3f %8d %10.1f %11s %7d", r.impl, r.bytes, r.count,
        r.type, r.redop, r.time_us, r.algbw_gbs, r.busbw_gbs, r.wrong, r.bound_us,
        r.bound_us > 0 ? absl::StrFormat("%.3f", r.bound_ratio) : std::string("n/a"), r.outages);
    if (any_resent) {
      absl::StrAppend(&line, r.resent.has_value() ? absl::StrFormat(" %8d", *r.resent)
                                                  : absl::StrFormat(" %8s", "-"));
    }
    if (any_participants) {
      absl::StrAppend(&line, r.participants.has_value() ? absl::StrFormat(" %12d", *r.participants)
                                                        : absl::StrFormat(" %12s", "-"));
    }
    if (any_bound_kind) {
      absl::StrAppend(&line, absl::StrFormat(" %6s", r.bound_kind.empty() ? "-" : r.bound_kind));
    }
    out << line << "\n";
  }
  out.flush();
}

}  // namespace crosslink::bench
