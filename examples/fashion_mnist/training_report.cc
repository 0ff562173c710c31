#include "training_report.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

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

}  // namespace

ProgressBar::ProgressBar(int epoch, int64_t total_steps)
    : epoch_(epoch), total_steps_(total_steps > 0 ? total_steps : 1), tty_(isatty(2) != 0) {}

void ProgressBar::Update(int64_t step, double mean_loss) {
  const double fraction = static_cast<double>(step) / static_cast<double>(total_steps_);
  if (tty_) {
    constexpr int kWidth = 40;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\repoch %d [%s] %3d%% loss %.4f", epoch_, bar.c_str(),
                 static_cast<int>(fraction * 100), mean_loss);
    std::fflush(stderr);
    return;
  }
  const int tenth = static_cast<int>(fraction * 10);
  if (tenth > last_tenth_) {
    last_tenth_ = tenth;
    std::fprintf(stderr, "epoch %d: %3d%% (%lld/%lld steps) loss %.4f\n", epoch_, tenth * 10,
                 static_cast<long long>(step), static_cast<long long>(total_steps_), mean_loss);
  }
}

void ProgressBar::Finish() {
  if (tty_) std::fprintf(stderr, "\n");
}

absl::Status WriteCsv(const std::string& path, const std::vector<EpochRecord>& records) {
  std::ofstream out(path);
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write CSV file ", path));
  out << "epoch,wall_s,loss,train_acc,test_acc,outages\n";
  for (const EpochRecord& r : records) {
    out << absl::StrFormat("%d,%.3f,%.6f,%.6f,%.6f,%d\n", r.epoch, r.wall_s, r.loss,
                           r.train_accuracy, r.test_accuracy, r.outages);
  }
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("error while writing CSV file ", path));
  return absl::OkStatus();
}

absl::Status WritePlot(const std::string& path, const std::vector<EpochRecord>& records,
                       const std::vector<std::pair<double, double>>& outages_wall_s,
                       const std::string& outage_note) {
  // gnuplot reads the data inline ($data heredoc), so no temporary file is left behind.
  std::string script = "$data << EOD\n";
  absl::StrAppend(&script, "0 nan nan nan\n");
  for (const EpochRecord& r : records) {
    absl::StrAppendFormat(&script, "%.3f %.6f %.6f %.6f\n", r.wall_s, r.loss, r.train_accuracy,
                          r.test_accuracy);
  }
  absl::StrAppend(&script, "EOD\n");
  absl::StrAppend(&script, "set terminal pngcairo size 1000,600\n");
  absl::StrAppendFormat(&script, "set output '%s'\n", GnuplotSingleQuoted(path));
  // Double quotes, so that \n breaks the title's line.
  absl::StrAppendFormat(&script,
                        "set title \"Fashion-MNIST on Crosslink: loss and accuracy against wall "
                        "time\\n%s\" noenhanced\n",
                        GnuplotDoubleQuoted(outage_note));
  absl::StrAppend(&script,
                  "set xlabel 'wall time since training start (s)'\n"
                  "set ylabel 'training loss'\nset y2label 'accuracy'\n"
                  "set ytics nomirror\nset y2tics\nset y2range [0:1]\nset yrange [0:*]\n"
                  "set key bottom right\nset grid\n");
  int object = 1;
  for (const auto& [begin, end] : outages_wall_s) {
    absl::StrAppendFormat(&script,
                          "set object %d rect from %.3f, graph 0 to %.3f, graph 1 behind "
                          "fillcolor rgb '#ffcccc' fillstyle solid 0.6 noborder\n",
                          object++, begin, end);
  }
  absl::StrAppend(
      &script,
      "plot $data using 1:2 with linespoints lw 2 title 'loss', "
      "$data using 1:3 axes x1y2 with linespoints lw 2 title 'train accuracy', "
      "$data using 1:4 axes x1y2 with linespoints lw 2 title 'test accuracy'",
      outages_wall_s.empty()
          ? ""
          : ", NaN with boxes fillcolor rgb '#ffcccc' fillstyle solid 0.6 title 'rank 0 link down'",
      "\n");

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
