// Availability plot through gnuplot: one data block per link state, each plotted as horizontal
// vectors (x = start, dx = length, y = link row), so the legend has one entry per state present.
#include "crosslink/linkmodel/availability_plot.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/linkmodel/contact_plan_csv.h"

namespace crosslink::linkmodel {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Colours per LinkState, chosen so "up" recedes (green) and each cause is distinct; fault (the
// surprise the planner cannot see) is the loudest.
constexpr std::array<const char*, kNumLinkStates> kStateColours = {
    "#2ca02c", "#7f7f7f", "#1f77b4", "#9467bd", "#ff7f0e", "#e5c100", "#d62728"};

// Single-quoted for a POSIX shell.
std::string ShellQuote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

// Double-quoted for gnuplot.
std::string GnuplotQuote(const std::string& s) {
  return absl::StrCat("\"", absl::StrReplaceAll(s, {{"\\", "\\\\"}, {"\"", "\\\""}}), "\"");
}

// A private temporary folder removed when this goes out of scope.
class TempDir {
 public:
  static absl::StatusOr<TempDir> Make() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "crosslink-plot-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a temporary folder ", pattern));
    }
    return TempDir(pattern);
  }
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir(const TempDir&) = delete;
  ~TempDir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

std::string ReadTail(const std::filesystem::path& path, size_t max_chars) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  if (s.size() > max_chars) s = "..." + s.substr(s.size() - max_chars);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

absl::Status WriteAvailabilityPlot(const ContactPlan& plan, const std::filesystem::path& path,
                                   const AvailabilityPlotOptions& options) {
  const int num_links = static_cast<int>(plan.links().size());
  if (num_links == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("availability plot ", path.string(), ": the plan has no links to draw"));
  }
  if (options.max_links < 1 || options.width_px < 100 || options.height_px < 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "availability plot ", path.string(), ": max_links must be >= 1 and the size >= 100 px"));
  }
  const int stride = (num_links + options.max_links - 1) / options.max_links;
  std::vector<int> shown;
  for (int i = 0; i < num_links; i += stride) shown.push_back(i);

  // One gnuplot data block per state ("index" in gnuplot), rows: start length row.
  std::array<std::string, kNumLinkStates> blocks;
  for (size_t row = 0; row < shown.size(); ++row) {
    for (const Segment& s : plan.links()[shown[row]].segments) {
      absl::StrAppendFormat(&blocks[static_cast<int>(s.state)], "%.6f %.6f %d\n", s.start_s,
                            s.end_s - s.start_s, row);
    }
  }

  ASSIGN_OR_RETURN(TempDir dir, TempDir::Make());
  const std::filesystem::path data = dir.path() / "segments.dat";
  const std::filesystem::path script = dir.path() / "plot.gp";
  const std::filesystem::path errors = dir.path() / "gnuplot.err";

  // Lines about half a row thick: bold for a few links, hairlines (1) for hundreds.
  const double row_px = (options.height_px - 150.0) / static_cast<double>(shown.size());
  const std::string line_width = absl::StrFormat("%.1f", std::clamp(row_px * 0.5, 1.0, 12.0));
  std::string data_text;
  std::string plot_cmd;
  int block_index = 0;
  for (int state = 0; state < kNumLinkStates; ++state) {
    if (blocks[state].empty()) continue;
    // gnuplot separates indexed blocks with two blank lines.
    absl::StrAppend(&data_text, blocks[state], "\n\n");
    absl::StrAppend(&plot_cmd, plot_cmd.empty() ? "plot " : ", \\\n     ",
                    GnuplotQuote(data.string()), " index ", block_index,
                    " using 1:3:2:(0) with vectors nohead lw ", line_width, " lc rgb \"",
                    kStateColours[state], "\" title \"",
                    Sv(LinkStateName(static_cast<LinkState>(state))), "\"");
    ++block_index;
  }
  RETURN_IF_ERROR(WriteTextFile(data, data_text, "plot data"));

  std::string title = options.title.empty() ? "Link availability" : options.title;
  absl::StrAppend(&title, plan.includes_faults() ? " (true plan)" : " (predicted plan)");
  if (stride > 1) {
    absl::StrAppend(&title, ": ", shown.size(), " of ", num_links, " links (1 in ", stride, ")");
  } else {
    absl::StrAppend(&title, ": ", num_links, " links");
  }
  std::string gp;
  absl::StrAppendFormat(&gp, "set terminal pngcairo size %d,%d font \"sans,10\"\n",
                        options.width_px, options.height_px);
  absl::StrAppend(&gp, "set output ", GnuplotQuote(path.string()), "\n");
  absl::StrAppend(&gp, "set title ", GnuplotQuote(title), " noenhanced\n");
  absl::StrAppend(&gp, "set xlabel \"time since scenario epoch (s)\"\n");
  absl::StrAppendFormat(&gp, "set xrange [0:%.6f]\n", plan.duration_s());
  absl::StrAppendFormat(&gp, "set yrange [-1:%d]\n", static_cast<int>(shown.size()));
  // Satellite names fit as tick labels only for a few links; otherwise rows are just numbered.
  if (shown.size() <= 40) {
    std::string tics;
    for (size_t row = 0; row < shown.size(); ++row) {
      const Link& link = plan.links()[shown[row]];
      absl::StrAppend(&tics, row == 0 ? "" : ", ",
                      GnuplotQuote(absl::StrCat(plan.satellite_names()[link.a], "-",
                                                plan.satellite_names()[link.b])),
                      " ", row);
    }
    absl::StrAppend(&gp, "set ytics (", tics, ") noenhanced\nset ylabel \"link\"\n");
  } else {
    absl::StrAppend(&gp, "set ylabel \"link (row)\"\n");
  }
  absl::StrAppend(&gp, "set key outside right top\nset grid xtics\n", plot_cmd, "\n");
  RETURN_IF_ERROR(WriteTextFile(script, gp, "gnuplot script"));

  const std::string command =
      absl::StrCat(ShellQuote(options.gnuplot), " ", ShellQuote(script.string()), " 2>",
                   ShellQuote(errors.string()));
  const int rc = std::system(command.c_str());
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    return absl::InternalError(absl::StrCat(
        "availability plot ", path.string(), ": `", options.gnuplot, " ", script.string(),
        "` failed (", rc == -1 ? "could not start" : absl::StrCat("exit status ", WEXITSTATUS(rc)),
        "): ", ReadTail(errors, 600)));
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) || std::filesystem::file_size(path, ec) == 0) {
    return absl::InternalError(
        absl::StrCat("availability plot ", path.string(), ": ", options.gnuplot,
                     " exited cleanly but wrote no PNG: ", ReadTail(errors, 600)));
  }
  return absl::OkStatus();
}

}  // namespace crosslink::linkmodel
