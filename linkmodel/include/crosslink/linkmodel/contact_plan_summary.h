// ContactPlanSummary: the handful of numbers a person reads first about a contact plan (how much
// of the link-time is up, what takes links down, the worst outage), as plain data for tools and
// tests, and as a text block for the CLI. Pure functions; thread-safe.
#ifndef CROSSLINK_LINKMODEL_CONTACT_PLAN_SUMMARY_H_
#define CROSSLINK_LINKMODEL_CONTACT_PLAN_SUMMARY_H_

#include <array>
#include <optional>
#include <string>

#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::linkmodel {

// Down segments of one cause: how many and their summed length (seconds).
struct OutageTotals {
  int count = 0;
  double total_s = 0;
};

struct LongestOutage {
  int link = 0;  // index into ContactPlan::links()
  std::string sat_a;
  std::string sat_b;
  LinkState cause = LinkState::kOccluded;
  double start_s = 0;
  double duration_s = 0;
};

struct ContactPlanSummary {
  int num_satellites = 0;
  int num_links = 0;  // candidate links
  int num_cross_plane_links = 0;
  double duration_s = 0;
  bool includes_faults = false;
  // Up time summed over links divided by num_links * duration_s (0 for a plan without links).
  double up_fraction = 0;
  // Indexed by LinkState; an outage is one down segment, so an occlusion followed by
  // re-acquisition counts once under each cause. The kUp entry stays zero.
  std::array<OutageTotals, kNumLinkStates> outages{};
  int num_contacts = 0;  // up-intervals over all links
  double mean_contacts_per_link = 0;
  // The single longest down segment (ties: the first in link, time order); none if all is up.
  std::optional<LongestOutage> longest_outage;
};

ContactPlanSummary SummarizeContactPlan(const ContactPlan& plan);

// A multi-line, human-readable rendering (ends in '\n'), headed by `title`.
std::string FormatContactPlanSummary(const ContactPlanSummary& summary, std::string_view title);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_CONTACT_PLAN_SUMMARY_H_
