// Contact plan summary: one pass over every link's segments.
#include "crosslink/linkmodel/contact_plan_summary.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace crosslink::linkmodel {
namespace {

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

}  // namespace

ContactPlanSummary SummarizeContactPlan(const ContactPlan& plan) {
  ContactPlanSummary s;
  s.num_satellites = plan.num_satellites();
  s.num_links = static_cast<int>(plan.links().size());
  s.duration_s = plan.duration_s();
  s.includes_faults = plan.includes_faults();
  double up_s = 0;
  for (int i = 0; i < s.num_links; ++i) {
    const Link& link = plan.links()[i];
    if (link.cross_plane) ++s.num_cross_plane_links;
    for (const Segment& seg : link.segments) {
      const double length_s = seg.end_s - seg.start_s;
      if (seg.state == LinkState::kUp) {
        up_s += length_s;
        ++s.num_contacts;
        continue;
      }
      OutageTotals& totals = s.outages[static_cast<int>(seg.state)];
      ++totals.count;
      totals.total_s += length_s;
      if (!s.longest_outage.has_value() || length_s > s.longest_outage->duration_s) {
        s.longest_outage = LongestOutage{i,
                                         plan.satellite_names()[link.a],
                                         plan.satellite_names()[link.b],
                                         seg.state,
                                         seg.start_s,
                                         length_s};
      }
    }
  }
  if (s.num_links > 0) {
    if (s.duration_s > 0) up_s /= static_cast<double>(s.num_links) * s.duration_s;
    s.up_fraction = s.duration_s > 0 ? up_s : 0;
    s.mean_contacts_per_link = static_cast<double>(s.num_contacts) / s.num_links;
  }
  return s;
}

std::string FormatContactPlanSummary(const ContactPlanSummary& s, std::string_view title) {
  std::string out = absl::StrCat(Sv(title), "\n");
  absl::StrAppendFormat(&out, "  satellites            %d\n", s.num_satellites);
  absl::StrAppendFormat(&out, "  candidate links       %d (%d cross-plane)\n", s.num_links,
                        s.num_cross_plane_links);
  absl::StrAppendFormat(
      &out, "  window                %.0f s%s\n", s.duration_s,
      s.includes_faults ? " (true plan: geometry and faults)" : " (predicted plan: geometry only)");
  absl::StrAppendFormat(&out, "  link-time up          %.2f %%\n", 100.0 * s.up_fraction);
  absl::StrAppendFormat(&out, "  contacts              %d (%.2f per link)\n", s.num_contacts,
                        s.mean_contacts_per_link);
  absl::StrAppendFormat(&out, "  outages by cause      %-10s %8s %14s\n", "cause", "count",
                        "total link-s");
  for (int state = 1; state < kNumLinkStates; ++state) {
    const OutageTotals& t = s.outages[state];
    absl::StrAppendFormat(&out, "                        %-10s %8d %14.1f\n",
                          Sv(LinkStateName(static_cast<LinkState>(state))), t.count, t.total_s);
  }
  if (s.longest_outage.has_value()) {
    const LongestOutage& l = *s.longest_outage;
    absl::StrAppendFormat(&out, "  longest outage        %s-%s, %s, %.1f s from t=%.1f s\n",
                          l.sat_a, l.sat_b, Sv(LinkStateName(l.cause)), l.duration_s, l.start_s);
  } else {
    absl::StrAppend(&out, "  longest outage        none (every link up all the time)\n");
  }
  return out;
}

}  // namespace crosslink::linkmodel
