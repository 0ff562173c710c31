// ContactPlanTimeline: the LinkTimeline between two satellites of a contact plan. When the pair
// is a candidate link, it is that link: up exactly in its up segments (kAcquiring after an outage
// counts as down), with the plan's latency and rate at the query time, and until_s the end of
// the segment. Otherwise it is the least-latency multi-hop route of ContactPlan::ShortestPath at
// the query time (latency summed over hops, rate of the narrowest), down when no route exists;
// until_s is then the next instant any link of the plan changes state (routes change only then).
//
// Holds the plan by shared_ptr; immutable, thread-safe.
#ifndef CROSSLINK_COLLECTIVES_EMULATION_CONTACT_PLAN_TIMELINE_H_
#define CROSSLINK_COLLECTIVES_EMULATION_CONTACT_PLAN_TIMELINE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "crosslink/collectives/emulation/link_timeline.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::collectives {

class ContactPlanTimeline final : public LinkTimeline {
 public:
  // kInvalidArgument when a satellite index is out of range or a == b.
  static absl::StatusOr<ContactPlanTimeline> Create(
      std::shared_ptr<const linkmodel::ContactPlan> plan, int sat_a, int sat_b);

  // The detour between sat_a and sat_b: the least-latency route of the plan that avoids their
  // direct link (through relay satellites), for a connection that resumes while that link is
  // down; down ("no path") when no such route is up. For a pair without a direct link it is the
  // same as Create. Errors as Create.
  static absl::StatusOr<ContactPlanTimeline> CreateDetour(
      std::shared_ptr<const linkmodel::ContactPlan> plan, int sat_a, int sat_b);

  LinkWindow At(double t_s) const override;
  std::string Describe() const override { return name_; }
  // Whether the pair is a direct candidate link (else routed over several hops).
  bool direct() const { return link_.has_value(); }

 private:
  ContactPlanTimeline(std::shared_ptr<const linkmodel::ContactPlan> plan, int a, int b);
  LinkWindow Direct(double t_s) const;
  LinkWindow Routed(double t_s) const;
  // The least-latency route avoiding excluded_link_ (CreateDetour).
  std::optional<linkmodel::Path> DetourPath(double t_s) const;

  std::shared_ptr<const linkmodel::ContactPlan> plan_;
  int a_ = 0;
  int b_ = 0;
  std::optional<int> link_;
  // CreateDetour: the direct link the route avoids, and the other links by satellite
  // (neighbour, link index).
  std::optional<int> excluded_link_;
  std::vector<std::vector<std::pair<int, int>>> adjacency_;
  std::string name_;
  // Sorted segment boundaries of every link, for routed pairs.
  std::vector<double> boundaries_s_;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_EMULATION_CONTACT_PLAN_TIMELINE_H_
