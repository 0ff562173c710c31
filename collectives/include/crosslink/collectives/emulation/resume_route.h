// ResumeRoute: which way a connection that broke mid-collective should come back, decided from
// the true link timelines at one orbit time: the direct link when it is up; else a detour through
// relay satellites (ContactPlanTimeline::CreateDetour) when one is up; else wait until the
// earlier of the direct link's return and the detour's next change, when the choice is made
// again. Used by the runtime's reconnect function for ResumableConnection; a pure function of
// the timelines (thread-safe, non-blocking).
#ifndef CROSSLINK_COLLECTIVES_EMULATION_RESUME_ROUTE_H_
#define CROSSLINK_COLLECTIVES_EMULATION_RESUME_ROUTE_H_

#include <string>

#include "crosslink/collectives/emulation/link_timeline.h"

namespace crosslink::collectives {

struct ResumeRoute {
  enum class Kind { kDirect, kDetour, kWait };
  Kind kind = Kind::kWait;
  // kWait: the orbit time at which to decide again (+infinity: nothing will ever change).
  double wait_until_s = 0;
  // For logs and errors: "direct link sat-0 - sat-1 is up", "direct link ... is down (fault)
  // until t=130.0 s; detour sat-0 - sat-1 (detour) is up, latency 12.3 ms", ...
  std::string reason;
};

// `detour` may be null (no relay route is known, or the pair has no direct link to avoid).
ResumeRoute ChooseResumeRoute(const LinkTimeline& direct, const LinkTimeline* detour, double t_s);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_EMULATION_RESUME_ROUTE_H_
