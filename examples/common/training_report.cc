#include "common/training_report.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crosslink::examples {
namespace {

// Text inside a gnuplot '...' string: a quote is written twice.
std::string GnuplotSingleQuoted(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out;
}

// Text inside a gnuplot "..." string: backslashes and quotes are escaped.
std::string GnuplotDoubleQuoted(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

absl::Status CheckRows(const std::string& path, const ReportTable& table) {
  for (size_t i = 0; i < table.rows.size(); ++i) {
    if (table.rows[i].size() != table.columns.size()) {
      return absl::InvalidArgumentError(absl::StrCat("report ", path, ": row ", i, " has ",
                                                     table.rows[i].size(), " values for ",
                                                     table.columns.size(), " columns"));
    }
  }
  return absl::OkStatus();
}

std::optional<size_t> ColumnIndex(const ReportTable& table, const std::string& name) {
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (table.columns[i].name == name) return i;
  }
  return std::nullopt;
}

}  // namespace

absl::Status WriteCsv(const std::string& path, const ReportTable& table) {
  if (absl::Status s = CheckRows(path, table); !s.ok()) return s;
  std::ofstream out(path);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write CSV file ", path));
  for (size_t c = 0; c < table.columns.size(); ++c) {
    out << (c ? "," : "") << table.columns[c].name;
  }
  out << "\n";
  for (const std::vector<double>& row : table.rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (c) out << ",";
      if (std::isnan(row[c])) {
        out << "nan";
      } else if (table.columns[c].decimals <= 0) {
        out << absl::StrFormat("%lld", static_cast<long long>(std::llround(row[c])));
      } else {
        out << absl::StrFormat("%.*f", table.columns[c].decimals, row[c]);
      }
    }
    out << "\n";
  }
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("error while writing CSV file ", path));
  return absl::OkStatus();
}

absl::Status WritePlot(const std::string& path, const ReportTable& table,
                       const PlotOptions& options) {
  if (absl::Status s = CheckRows(path, table); !s.ok()) return s;
  std::vector<size_t> columns;  // x first, then the series, in the data block's order
  for (const std::string* name = &options.x_column;;) {
    const std::optional<size_t> index = ColumnIndex(table, *name);
    if (!index) {
      return absl::InvalidArgumentError(
          absl::StrCat("plot ", path, ": no column \"", *name, "\" in the report"));
    }
    columns.push_back(*index);
    if (columns.size() > options.series.size()) break;
    name = &options.series[columns.size() - 1].column;
  }

  // gnuplot reads the data inline ($data heredoc), so no temporary file is left behind. A first
  // row at x = 0 without values makes the x axis start where training did.
  std::string script = "$data << EOD\n0";
  for (size_t i = 1; i < columns.size(); ++i) absl::StrAppend(&script, " nan");
  absl::StrAppend(&script, "\n");
  for (const std::vector<double>& row : table.rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      absl::StrAppendFormat(&script, i ? " %.6g" : "%.6g", row[columns[i]]);
    }
    absl::StrAppend(&script, "\n");
  }
  absl::StrAppend(&script, "EOD\n");
  absl::StrAppend(&script, "set terminal pngcairo size 1000,600\n");
  absl::StrAppendFormat(&script, "set output '%s'\n", GnuplotSingleQuoted(path));
  // Double quotes, so that \n breaks the title's line.
  absl::StrAppendFormat(&script, "set title \"%s\\n%s\" noenhanced\n",
                        GnuplotDoubleQuoted(options.title),
                        GnuplotDoubleQuoted(options.outage_note));
  absl::StrAppendFormat(&script, "set xlabel '%s'\nset ylabel '%s'\n",
                        GnuplotSingleQuoted(options.x_label), GnuplotSingleQuoted(options.y_label));
  if (!options.y2_label.empty()) {
    absl::StrAppendFormat(&script, "set y2label '%s'\nset ytics nomirror\nset y2tics\n",
                          GnuplotSingleQuoted(options.y2_label));
    if (options.y2_unit_range) absl::StrAppend(&script, "set y2range [0:1]\n");
  }
  if (options.y_from_zero) absl::StrAppend(&script, "set yrange [0:*]\n");
  absl::StrAppend(&script, "set xrange [0:*]\nset key center right\nset grid\n");
  int object = 1;
  for (const auto& [begin, end] : options.outages_wall_s) {
    absl::StrAppendFormat(&script,
                          "set object %d rect from %.3f, graph 0 to %.3f, graph 1 behind "
                          "fillcolor rgb '#ffcccc' fillstyle solid 0.6 noborder\n",
                          object++, begin, end);
  }
  absl::StrAppend(&script, "plot ");
  for (size_t i = 0; i < options.series.size(); ++i) {
    const PlotSeries& series = options.series[i];
    absl::StrAppendFormat(&script, "%s$data using 1:%d%s with linespoints lw 2 title '%s'",
                          i ? ", " : "", static_cast<int>(i) + 2,
                          series.right_axis ? " axes x1y2" : "", GnuplotSingleQuoted(series.title));
  }
  if (!options.outages_wall_s.empty()) {
    absl::StrAppend(&script,
                    ", NaN with boxes fillcolor rgb '#ffcccc' fillstyle solid 0.6 "
                    "title 'rank 0 link down'");
  }
  absl::StrAppend(&script, "\n");

  FILE* gnuplot = popen("gnuplot", "w");
  if (gnuplot == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot start gnuplot to draw ", path));
  }
  std::fwrite(script.data(), 1, script.size(), gnuplot);
  const int rc = pclose(gnuplot);
  if (rc != 0 || !std::filesystem::exists(path)) {
    return absl::UnavailableError(
        absl::StrCat("gnuplot failed (status ", rc, ") drawing ", path, "; is gnuplot installed?"));
  }
  return absl::OkStatus();
}

}  // namespace crosslink::examples
