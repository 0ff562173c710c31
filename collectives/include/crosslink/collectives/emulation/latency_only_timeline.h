// LatencyOnlyTimeline: the part of a link's truth that a process still has to play when the kernel
// plays the rest. Under `crosslink-run --netns` every crosslink is a real veth whose rate (tc tbf)
// and outages (ip link set down) the launcher applies, and the kernel reroutes around a link that
// is down; only propagation delay is left to the process (this kernel has no netem). So this
// timeline is always up with no serialisation rate, and its latency is the primary timeline's
// (the direct link) while that is up, else the fallback's (the route the kernel takes around it,
// e.g. ContactPlanTimeline::CreateDetour), else the last one known (0 before any).
//
// Immutable, thread-safe; holds both timelines by shared_ptr.
#ifndef CROSSLINK_COLLECTIVES_EMULATION_LATENCY_ONLY_TIMELINE_H_
#define CROSSLINK_COLLECTIVES_EMULATION_LATENCY_ONLY_TIMELINE_H_

#include <memory>
#include <string>

#include "crosslink/collectives/emulation/link_timeline.h"

namespace crosslink::collectives {

class LatencyOnlyTimeline final : public LinkTimeline {
 public:
  // `fallback` may be null (a pair with no route around its link).
  LatencyOnlyTimeline(std::shared_ptr<const LinkTimeline> primary,
                      std::shared_ptr<const LinkTimeline> fallback);

  // Always up, rate_bps 0; latency as the class comment says; until_s where the primary's (or,
  // while it is down, the fallback's) state changes, so the latency is re-read then.
  LinkWindow At(double t_s) const override;
  std::string Describe() const override { return primary_->Describe() + " (kernel link)"; }

 private:
  std::shared_ptr<const LinkTimeline> primary_;
  std::shared_ptr<const LinkTimeline> fallback_;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_EMULATION_LATENCY_ONLY_TIMELINE_H_
