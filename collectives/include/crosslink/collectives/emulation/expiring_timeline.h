// ExpiringTimeline: a LinkTimeline that follows another one until an orbit time and is down for
// good from then on (state "retired: <why>"). The runtime gives the link emulator of a detour one
// that expires when the direct link it stands in for returns: in cut mode the emulator then cuts
// the detour at the first message after that time, the ResumableConnection reconnects, and
// ChooseResumeRoute picks the direct link again. So a detour's extra relay latency lasts only as
// long as the outage it avoids, instead of for the rest of the job (a relay path across a plus
// grid is often 3-5 times the direct link's latency, paid by every message of every collective).
//
// Immutable after construction (thread-safe const methods, as every LinkTimeline).
#ifndef CROSSLINK_COLLECTIVES_EMULATION_EXPIRING_TIMELINE_H_
#define CROSSLINK_COLLECTIVES_EMULATION_EXPIRING_TIMELINE_H_

#include <memory>
#include <string>

#include "crosslink/collectives/emulation/link_timeline.h"

namespace crosslink::collectives {

class ExpiringTimeline final : public LinkTimeline {
 public:
  // `inner` must not be null; `expires_at_s` may be +infinity (then this is `inner` unchanged).
  // `why` completes "retired: ..." in the down state after expiry (e.g. "the direct link is back
  // at t=62.4 s").
  ExpiringTimeline(std::shared_ptr<const LinkTimeline> inner, double expires_at_s, std::string why);

  // Before expires_at_s: inner's window, its until_s clipped to expires_at_s. From then on: down
  // forever.
  LinkWindow At(double t_s) const override;
  std::string Describe() const override { return inner_->Describe(); }
  double expires_at_s() const { return expires_at_s_; }

 private:
  std::shared_ptr<const LinkTimeline> inner_;
  double expires_at_s_;
  std::string retired_state_;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_EMULATION_EXPIRING_TIMELINE_H_
