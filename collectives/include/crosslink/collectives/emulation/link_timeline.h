// LinkTimeline: what a link between two ranks looks like at an orbit time: up or down, its
// one-way latency and data rate, and until when (orbit seconds) it stays up or down. The link
// emulator reads it; ContactPlanTimeline derives one from a contact plan, PiecewiseTimeline is a
// hand-written one for tests and synthetic benchmarks.
//
// Implementations are immutable after construction (thread-safe const methods).
#ifndef CROSSLINK_COLLECTIVES_EMULATION_LINK_TIMELINE_H_
#define CROSSLINK_COLLECTIVES_EMULATION_LINK_TIMELINE_H_

#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace crosslink::collectives {

struct LinkWindow {
  bool up = false;
  // One-way latency and data rate at the query time; meaningful when up. rate_bps <= 0 means
  // "no serialisation delay" (an ideal link, only latency).
  double latency_s = 0;
  double rate_bps = 0;
  // The up/down state holds from the query time until this orbit time (exclusive); +infinity
  // when it never changes. Latency and rate may drift before it (they follow the range).
  double until_s = std::numeric_limits<double>::infinity();
  // Why it is down ("occluded", "acquiring", "no path", ...), or "up".
  std::string state;
};

class LinkTimeline {
 public:
  virtual ~LinkTimeline() = default;
  virtual LinkWindow At(double t_s) const = 0;
  // Names the link in error messages ("sat-3 - sat-7").
  virtual std::string Describe() const = 0;
};

// A timeline given as pieces: each holds from its start_s until the next piece's start_s; the
// last holds forever. Before the first piece the first one applies.
class PiecewiseTimeline final : public LinkTimeline {
 public:
  struct Piece {
    double start_s = 0;
    bool up = true;
    double latency_s = 0;
    double rate_bps = 0;
    std::string state;  // defaults to "up" / "down"
  };
  // kInvalidArgument when `pieces` is empty or start times do not increase.
  static absl::StatusOr<PiecewiseTimeline> Create(std::string name, std::vector<Piece> pieces);
  // A link that is always up.
  static PiecewiseTimeline AlwaysUp(std::string name, double latency_s, double rate_bps);

  LinkWindow At(double t_s) const override;
  std::string Describe() const override { return name_; }

 private:
  PiecewiseTimeline(std::string name, std::vector<Piece> pieces)
      : name_(std::move(name)), pieces_(std::move(pieces)) {}
  std::string name_;
  std::vector<Piece> pieces_;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_EMULATION_LINK_TIMELINE_H_
