// ScenarioClock: maps wall time to orbit time (seconds since the scenario epoch) for a live run
// that replays a scenario at `time_scale` orbit seconds per wall second:
//   orbit(t_wall) = orbit_start_s + (t_wall - wall_start) * time_scale
// and back. The link emulator uses it to turn a contact plan's orbit times into wall deadlines.
// Immutable after construction: thread-safe. The wall source is injectable so tests can drive a
// clock by hand; the default is absl::Now.
#ifndef CROSSLINK_COLLECTIVES_EMULATION_SCENARIO_CLOCK_H_
#define CROSSLINK_COLLECTIVES_EMULATION_SCENARIO_CLOCK_H_

#include <functional>
#include <limits>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace crosslink::collectives {

class ScenarioClock {
 public:
  using WallSource = std::function<absl::Time()>;

  // `time_scale` must be > 0 (orbit seconds per wall second).
  ScenarioClock(double orbit_start_s, double time_scale, absl::Time wall_start,
                WallSource wall_now = &absl::Now)
      : orbit_start_s_(orbit_start_s),
        time_scale_(time_scale),
        wall_start_(wall_start),
        wall_now_(std::move(wall_now)) {}
  // Starts now: orbit time orbit_start_s is the present instant.
  ScenarioClock(double orbit_start_s, double time_scale)
      : ScenarioClock(orbit_start_s, time_scale, absl::Now()) {}

  absl::Time WallNow() const { return wall_now_(); }
  double OrbitNow() const { return OrbitAt(WallNow()); }

  // Orbit seconds at a wall instant, and the wall instant of an orbit time. An infinite orbit
  // time maps to absl::InfiniteFuture() (a link that never changes again).
  double OrbitAt(absl::Time wall) const {
    return orbit_start_s_ + absl::ToDoubleSeconds(wall - wall_start_) * time_scale_;
  }
  absl::Time WallAt(double orbit_s) const {
    if (orbit_s == std::numeric_limits<double>::infinity()) return absl::InfiniteFuture();
    if (orbit_s == -std::numeric_limits<double>::infinity()) return absl::InfinitePast();
    return wall_start_ + absl::Seconds((orbit_s - orbit_start_s_) / time_scale_);
  }

  double orbit_start_s() const { return orbit_start_s_; }
  double time_scale() const { return time_scale_; }
  absl::Time wall_start() const { return wall_start_; }

 private:
  double orbit_start_s_;
  double time_scale_;
  absl::Time wall_start_;
  WallSource wall_now_;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_EMULATION_SCENARIO_CLOCK_H_
