#include "crosslink/collectives/emulation/resume_route.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace crosslink::collectives {

ResumeRoute ChooseResumeRoute(const LinkTimeline& direct, const LinkTimeline* detour, double t_s) {
  ResumeRoute route;
  const LinkWindow d = direct.At(t_s);
  if (d.up) {
    route.kind = ResumeRoute::Kind::kDirect;
    route.reason = absl::StrFormat("direct link %s is up at t=%.3f s", direct.Describe(), t_s);
    return route;
  }
  const std::string down = absl::StrFormat("direct link %s is down (%s) at t=%.3f s until t=%.3f s",
                                           direct.Describe(), d.state, t_s, d.until_s);
  route.wait_until_s = d.until_s;
  if (detour == nullptr) {
    route.reason = absl::StrCat(down, "; no detour");
    return route;
  }
  const LinkWindow r = detour->At(t_s);
  if (r.up) {
    route.kind = ResumeRoute::Kind::kDetour;
    route.reason = absl::StrFormat("%s; detour %s is up (latency %.3f ms)", down,
                                   detour->Describe(), r.latency_s * 1e3);
    return route;
  }
  // A relay route may appear before the direct link returns.
  route.wait_until_s = std::min(d.until_s, r.until_s);
  route.reason = absl::StrFormat("%s; no detour through relay satellites (%s) until t=%.3f s", down,
                                 r.state, r.until_s);
  return route;
}

}  // namespace crosslink::collectives
