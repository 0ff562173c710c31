#include "crosslink/collectives/emulation/link_timeline.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace crosslink::collectives {

absl::StatusOr<PiecewiseTimeline> PiecewiseTimeline::Create(std::string name,
                                                            std::vector<Piece> pieces) {
  if (pieces.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat("timeline %s: no pieces", name));
  }
  for (size_t i = 1; i < pieces.size(); ++i) {
    if (!(pieces[i].start_s > pieces[i - 1].start_s)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("timeline %s: piece %d starts at %g s, not after piece %d (%g s)", name,
                          i, pieces[i].start_s, i - 1, pieces[i - 1].start_s));
    }
  }
  for (Piece& p : pieces) {
    if (p.state.empty()) p.state = p.up ? "up" : "down";
  }
  return PiecewiseTimeline(std::move(name), std::move(pieces));
}

PiecewiseTimeline PiecewiseTimeline::AlwaysUp(std::string name, double latency_s, double rate_bps) {
  return PiecewiseTimeline(std::move(name), {Piece{0, true, latency_s, rate_bps, "up"}});
}

LinkWindow PiecewiseTimeline::At(double t_s) const {
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), t_s,
                             [](double t, const Piece& p) { return t < p.start_s; });
  const size_t i = it == pieces_.begin() ? 0 : static_cast<size_t>(it - pieces_.begin()) - 1;
  const Piece& p = pieces_[i];
  LinkWindow w;
  w.up = p.up;
  w.latency_s = p.latency_s;
  w.rate_bps = p.rate_bps;
  w.state = p.state;
  // Neighbouring pieces in the same up/down state do not end the window.
  size_t j = i + 1;
  while (j < pieces_.size() && pieces_[j].up == p.up) ++j;
  if (j < pieces_.size()) w.until_s = pieces_[j].start_s;
  return w;
}

}  // namespace crosslink::collectives
