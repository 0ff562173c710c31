// What rank 0 of an example training job writes: its per-epoch (or per-evaluation) figures as a
// CSV file, and a PNG plot of them against wall time, drawn by gnuplot, with the intervals in
// which rank 0's crosslinks were down shaded.
//
// A ReportTable is the figures: named numeric columns and one row per evaluation. Both writers
// take the same table, so the CSV and the plot can never disagree.
//
// Blocking: the writers block on the file system and, for the plot, on a gnuplot process.
// Errors: kInvalidArgument (a row of the wrong width, a plotted column that does not exist),
// kUnavailable (a file cannot be written, gnuplot is missing or fails), naming the path.
// Not thread-safe.
#ifndef CROSSLINK_EXAMPLES_COMMON_TRAINING_REPORT_H_
#define CROSSLINK_EXAMPLES_COMMON_TRAINING_REPORT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace crosslink::examples {

struct ReportColumn {
  std::string name;  // CSV header field and the name plots refer to
  int decimals = 6;  // digits after the point in the CSV; 0 writes an integer
};

struct ReportTable {
  std::vector<ReportColumn> columns;
  // One value per column; NaN where a figure does not exist for that row (written "nan").
  std::vector<std::vector<double>> rows;
};

// A header line of the column names, then one line per row.
absl::Status WriteCsv(const std::string& path, const ReportTable& table);

struct PlotSeries {
  std::string column;
  std::string title;        // legend entry
  bool right_axis = false;  // on the y2 axis (e.g. accuracy beside a loss)
};

struct PlotOptions {
  std::string title;  // first title line; outage_note is the second
  std::string x_column = "wall_s";
  std::string x_label = "wall time since training start (s)";
  std::string y_label;
  std::string y2_label;        // empty: no series on the right axis
  bool y2_unit_range = false;  // the right axis spans [0, 1] (fractions such as accuracy)
  bool y_from_zero = true;     // the left axis starts at 0
  std::vector<PlotSeries> series;
  // [begin, end) wall-second intervals in which at least one of rank 0's links was down.
  std::vector<std::pair<double, double>> outages_wall_s;
  std::string outage_note;  // how the outages were found, or why none are shown
};

// The series against options.x_column; the x axis starts at 0 (the start of training).
absl::Status WritePlot(const std::string& path, const ReportTable& table,
                       const PlotOptions& options);

}  // namespace crosslink::examples

#endif  // CROSSLINK_EXAMPLES_COMMON_TRAINING_REPORT_H_
