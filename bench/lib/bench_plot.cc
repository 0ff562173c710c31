#include "bench/lib/bench_plot.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

extern char** environ;

namespace crosslink::bench {
namespace {

// gnuplot strings are single-quoted; a quote inside is doubled.
std::string Quote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "''"}}), "'");
}

absl::Status RunGnuplot(const std::string& gnuplot, const std::filesystem::path& script) {
  std::string arg0 = gnuplot;
  std::string arg1 = script.string();
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, gnuplot.c_str(), nullptr, nullptr, argv, environ);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot start ", gnuplot, " for ", script.string(), ": ", std::strerror(rc)));
  }
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("waiting for gnuplot: ", std::strerror(errno)));
    }
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return absl::UnavailableError(
        absl::StrCat(gnuplot, " failed on ", script.string(), " (wait status ", wstatus, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteBusBandwidthPlot(const PlotOptions& options, const std::vector<BenchRow>& rows) {
  if (rows.empty()) return absl::InvalidArgumentError("no rows to plot");
  // One data block per implementation, in first-seen order, plus the bound's bus bandwidth
  // (the bus bandwidth a run at exactly the bound would reach) from the crosslink rows.
  std::vector<std::string> impls;
  std::map<std::string, std::string> blocks;
  std::string bound_block;
  for (const BenchRow& r : rows) {
    if (!blocks.contains(r.impl)) impls.push_back(r.impl);
    absl::StrAppend(&blocks[r.impl], absl::StrFormat("%d %.6f\n", r.bytes, r.busbw_gbs));
    if (r.impl == "crosslink" && r.bound_us > 0) {
      const double bound_busbw =
          AllreduceBusBandwidthGBs(AlgBandwidthGBs(r.bytes, r.bound_us), r.ranks);
      absl::StrAppend(&bound_block, absl::StrFormat("%d %.6f\n", r.bytes, bound_busbw));
    }
  }
  std::string script;
  absl::StrAppend(&script, "set terminal pngcairo size 900,600\n");
  absl::StrAppend(&script, "set output ", Quote(options.png.string()), "\n");
  absl::StrAppend(&script, "set title ", Quote(options.title), " noenhanced\n");
  absl::StrAppend(&script, "set logscale x 2\nset format x '%.0b%B'\n");
  absl::StrAppend(&script, "set xlabel 'message size (bytes)'\n");
  absl::StrAppend(&script, "set ylabel 'bus bandwidth (GB/s, 10^9 B/s)' noenhanced\n");
  absl::StrAppend(&script, "set yrange [0:*]\nset grid\nset key top left noenhanced\n");
  for (size_t i = 0; i < impls.size(); ++i) {
    absl::StrAppend(&script, "$impl", i, " << EOD\n", blocks[impls[i]], "EOD\n");
  }
  if (!bound_block.empty()) absl::StrAppend(&script, "$bound << EOD\n", bound_block, "EOD\n");
  absl::StrAppend(&script, "plot ");
  for (size_t i = 0; i < impls.size(); ++i) {
    if (i > 0) absl::StrAppend(&script, ", ");
    absl::StrAppend(&script, "$impl", i, " using 1:2 with linespoints lw 2 title ",
                    Quote(impls[i]));
  }
  if (!bound_block.empty()) {
    absl::StrAppend(&script, ", $bound using 1:2 with lines dt 2 lw 2 title 'ring bound'");
  }
  absl::StrAppend(&script, "\n");

  const std::filesystem::path script_path = options.png.string() + ".gp";
  {
    std::ofstream out(script_path, std::ios::trunc);
    if (!out) {
      return absl::UnavailableError(absl::StrCat("cannot write gnuplot script ",
                                                 script_path.string(), ": ", std::strerror(errno)));
    }
    out << script;
    if (!out.flush()) {
      return absl::UnavailableError(absl::StrCat("error writing ", script_path.string()));
    }
  }
  return RunGnuplot(options.gnuplot, script_path);
}

}  // namespace crosslink::bench
