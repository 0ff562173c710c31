// Availability plot: a PNG with one horizontal line per link across the scenario window, coloured
// by the link's state (up, occluded, range, polar, sun, acquiring, fault) with a legend. The
// picture that shows at a glance whether outages are rare, periodic (orbit geometry) or random.
// Drawn by running gnuplot (gnuplot-nox on Debian): the data and the script go to a temporary
// folder that is removed afterwards. Blocks until gnuplot exits; thread-safe (no shared state).
#ifndef CROSSLINK_LINKMODEL_AVAILABILITY_PLOT_H_
#define CROSSLINK_LINKMODEL_AVAILABILITY_PLOT_H_

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::linkmodel {

struct AvailabilityPlotOptions {
  std::string title;  // empty: "Link availability"
  // A plan with more links draws every k-th link (k = ceil(links / max_links)) and says so in the
  // title: a line per link stops being readable well before a few hundred links fit in the image.
  int max_links = 300;
  int width_px = 1400;
  int height_px = 900;
  std::string gnuplot = "gnuplot";  // the program to run (PATH lookup)
};

// Writes the PNG to `path`. kInternal naming the command and quoting gnuplot's error output when
// gnuplot fails, is missing or writes no PNG, or when the temporary folder cannot be created;
// kInvalidArgument for a plan without links, bad options (max_links < 1, a side < 100 px) or a
// script that cannot be written.
absl::Status WriteAvailabilityPlot(const ContactPlan& plan, const std::filesystem::path& path,
                                   const AvailabilityPlotOptions& options = {});

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_AVAILABILITY_PLOT_H_
