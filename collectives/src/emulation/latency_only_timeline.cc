#include "crosslink/collectives/emulation/latency_only_timeline.h"

#include <algorithm>
#include <utility>

namespace crosslink::collectives {

LatencyOnlyTimeline::LatencyOnlyTimeline(std::shared_ptr<const LinkTimeline> primary,
                                         std::shared_ptr<const LinkTimeline> fallback)
    : primary_(std::move(primary)), fallback_(std::move(fallback)) {}

LinkWindow LatencyOnlyTimeline::At(double t_s) const {
  const LinkWindow direct = primary_->At(t_s);
  LinkWindow w;
  w.up = true;
  w.rate_bps = 0;  // the kernel's tc shapes the rate
  w.state = "up";
  w.until_s = direct.until_s;
  if (direct.up) {
    w.latency_s = direct.latency_s;
    return w;
  }
  if (fallback_ != nullptr) {
    const LinkWindow detour = fallback_->At(t_s);
    w.until_s = std::min(direct.until_s, detour.until_s);
    if (detour.up) {
      w.latency_s = detour.latency_s;
      return w;
    }
  }
  // No route now: the kernel holds the bytes (TCP retransmits) until one returns; the latency
  // they meet then is the returning link's, which the primary gives once it is up again.
  w.latency_s = 0;
  return w;
}

}  // namespace crosslink::collectives
