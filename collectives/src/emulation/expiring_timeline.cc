#include "crosslink/collectives/emulation/expiring_timeline.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace crosslink::collectives {

ExpiringTimeline::ExpiringTimeline(std::shared_ptr<const LinkTimeline> inner, double expires_at_s,
                                   std::string why)
    : inner_(std::move(inner)),
      expires_at_s_(expires_at_s),
      retired_state_(absl::StrCat("retired: ", why)) {}

LinkWindow ExpiringTimeline::At(double t_s) const {
  if (t_s >= expires_at_s_) {
    LinkWindow retired;
    retired.up = false;
    retired.until_s = std::numeric_limits<double>::infinity();
    retired.state = retired_state_;
    return retired;
  }
  LinkWindow window = inner_->At(t_s);
  window.until_s = std::min(window.until_s, expires_at_s_);
  return window;
}

}  // namespace crosslink::collectives
