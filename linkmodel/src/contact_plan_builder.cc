#include "crosslink/linkmodel/contact_plan_builder.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/linkmodel/faults.h"
#include "crosslink/linkmodel/julian_date.h"
#include "crosslink/linkmodel/link_geometry.h"
#include "crosslink/linkmodel/sun.h"
#include "crosslink/linkmodel/topology.h"

namespace crosslink::linkmodel {
namespace {

// A located change of one link's state.
struct Change {
  double t_s;
  LinkState to;
};

// What one thread learns about its time slice [k0, k1] of the sample grid.
struct SliceResult {
  std::vector<LinkState> first;              // state of each link at sample k0
  std::vector<std::vector<Change>> changes;  // per link, in time order
  absl::Status status;
};

class Builder {
 public:
  Builder(const Constellation& c, const TimeConfig& time, const LinkPhysics& physics,
          std::vector<CandidateLink> candidates, absl::Time deadline)
      : c_(c),
        deadline_(deadline),

        th_(physics),
        candidates_(std::move(candidates)),
        duration_s_(time.duration_s),
        step_s_(time.step_s),
        jd0_(ToJulianDate(c.epoch)) {
    last_k_ = static_cast<int64_t>(std::ceil(duration_s_ / step_s_ - 1e-9));
    if (last_k_ < 1) last_k_ = 1;
    range_every_ = static_cast<int64_t>(std::llround(RangeSampleStepS(step_s_) / step_s_));
    num_range_samples_ = (last_k_ + range_every_ - 1) / range_every_ + 1;
    props_.reserve(c.satellites.size());
    for (const Satellite& s : c.satellites) props_.push_back(s.propagator.get());
  }

  double SampleTime(int64_t k) const {
    return k >= last_k_ ? duration_s_ : static_cast<double>(k) * step_s_;
  }
  double range_step_s() const { return static_cast<double>(range_every_) * step_s_; }
  int64_t last_k() const { return last_k_; }

  absl::Status PropagatorError(int sat, double t_s, const absl::Status& s) const {
    return absl::OutOfRangeError(absl::StrFormat("satellite %s (index %d) at t=%.3f s: %s",
                                                 c_.satellites[sat].name, sat, t_s, s.message()));
  }

  Vec3 Sun(double t_s) const { return SunDirectionAtJulianDate(jd0_ + t_s / kSecondsPerDay); }

  // Geometry of one link at t_s, propagating only its two ends.
  absl::StatusOr<LinkState> StateOfLink(const CandidateLink& l, double t_s) const {
    absl::StatusOr<StateVector> a = props_[l.a]->StateAt(t_s);
    if (!a.ok()) return PropagatorError(l.a, t_s, a.status());
    absl::StatusOr<StateVector> b = props_[l.b]->StateAt(t_s);
    if (!b.ok()) return PropagatorError(l.b, t_s, b.status());
    return EvaluateLink(a->position_km, b->position_km, Sun(t_s), th_, l.cross_plane);
  }

  // Samples k0..k1 inclusive; writes the range samples whose grid index it owns (k0 <= k < k1,
  // plus k1 for the last slice), so slices never write the same element.
  void RunSlice(int64_t k0, int64_t k1, bool last_slice, std::vector<Link>& links,
                SliceResult& out) const {
    const size_t num_links = candidates_.size();
    out.first.assign(num_links, LinkState::kUp);
    out.changes.assign(num_links, {});
    std::vector<Vec3> pos(props_.size());
    std::vector<LinkState> prev(num_links, LinkState::kUp);
    for (int64_t k = k0; k <= k1; ++k) {
      const double t = SampleTime(k);
      // The clock is read once per kDeadlineCheckSamples samples (a sample costs microseconds
      // per satellite, so the overshoot stays far below a setup timeout), and a slice that
      // passes the deadline stops the others too.
      if ((k - k0) % kDeadlineCheckSamples == 0 && deadline_ != absl::InfiniteFuture() &&
          (stopped_.load(std::memory_order_relaxed) || absl::Now() > deadline_)) {
        stopped_.store(true, std::memory_order_relaxed);
        out.status = absl::DeadlineExceededError(absl::StrFormat(
            "contact plan building passed its deadline at orbit time %.0f s of %.0f s (%d "
            "satellites, %d candidate links); give setup more time or shorten the scenario's "
            "window",
            t, duration_s_, props_.size(), num_links));
        return;
      }
      for (size_t s = 0; s < props_.size(); ++s) {
        absl::StatusOr<StateVector> st = props_[s]->StateAt(t);
        if (!st.ok()) {
          out.status = PropagatorError(static_cast<int>(s), t, st.status());
          return;
        }
        pos[s] = st->position_km;
      }
      const Vec3 sun = Sun(t);
      int64_t range_index = -1;
      if (k < k1 || last_slice) {
        if (k == last_k_) {
          range_index = num_range_samples_ - 1;
        } else if (k % range_every_ == 0) {
          range_index = k / range_every_;
        }
      }
      for (size_t i = 0; i < num_links; ++i) {
        const CandidateLink& l = candidates_[i];
        const LinkState state = EvaluateLink(pos[l.a], pos[l.b], sun, th_, l.cross_plane);
        if (range_index >= 0) {
          links[i].range_km[range_index] = static_cast<float>(Norm(pos[l.b] - pos[l.a]));
        }
        if (k == k0) {
          out.first[i] = state;
        } else if (state != prev[i]) {
          absl::StatusOr<double> edge = Refine(l, SampleTime(k - 1), t, prev[i]);
          if (!edge.ok()) {
            out.status = edge.status();
            return;
          }
          out.changes[i].push_back({*edge, state});
        }
        prev[i] = state;
      }
    }
  }

  // The instant within (lo, hi] where the link leaves state `from`, to kEdgeToleranceS / 2.
  absl::StatusOr<double> Refine(const CandidateLink& l, double lo, double hi,
                                LinkState from) const {
    while (hi - lo > kEdgeToleranceS) {
      const double mid = 0.5 * (lo + hi);
      ASSIGN_OR_RETURN(LinkState s, StateOfLink(l, mid));
      if (s == from) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    return 0.5 * (lo + hi);
  }

  int64_t num_range_samples() const { return num_range_samples_; }
  const std::vector<CandidateLink>& candidates() const { return candidates_; }

 private:
  static constexpr int64_t kDeadlineCheckSamples = 16;
  const Constellation& c_;
  const absl::Time deadline_;
  mutable std::atomic<bool> stopped_{false};  // a slice passed the deadline
  const LinkThresholds th_;
  const std::vector<CandidateLink> candidates_;
  const double duration_s_;
  const double step_s_;
  const double jd0_;
  int64_t last_k_ = 1;
  int64_t range_every_ = 1;
  int64_t num_range_samples_ = 2;
  std::vector<const Propagator*> props_;
};

void MergeEqual(std::vector<Segment>& segs) {
  size_t w = 0;
  for (size_t r = 0; r < segs.size(); ++r) {
    if (segs[r].end_s <= segs[r].start_s && segs.size() > 1) continue;  // empty
    if (w > 0 && segs[w - 1].state == segs[r].state) {
      segs[w - 1].end_s = segs[r].end_s;
    } else {
      segs[w++] = segs[r];
    }
  }
  segs.resize(w);
}

// Up-time inside a fault interval becomes kFault; geometric outages keep their cause.
std::vector<Segment> OverlayFaults(const std::vector<Segment>& segs,
                                   const std::vector<FaultInterval>& faults) {
  if (faults.empty()) return segs;
  std::vector<Segment> out;
  size_t f = 0;
  for (const Segment& s : segs) {
    if (s.state != LinkState::kUp) {
      out.push_back(s);
      continue;
    }
    double t = s.start_s;
    while (f < faults.size() && faults[f].end_s <= t) ++f;
    for (size_t g = f; g < faults.size() && faults[g].start_s < s.end_s; ++g) {
      const double fs = std::max(faults[g].start_s, t);
      const double fe = std::min(faults[g].end_s, s.end_s);
      if (fe <= fs) continue;
      if (fs > t) out.push_back({t, fs, LinkState::kUp});
      out.push_back({fs, fe, LinkState::kFault});
      t = fe;
    }
    if (t < s.end_s) out.push_back({t, s.end_s, LinkState::kUp});
  }
  MergeEqual(out);
  return out;
}

// The first acquisition_s of every up segment that follows an outage become kAcquiring.
void ApplyAcquisition(std::vector<Segment>& segs, double acquisition_s) {
  if (acquisition_s <= 0.0) return;
  std::vector<Segment> out;
  out.reserve(segs.size() + segs.size() / 2);
  for (size_t i = 0; i < segs.size(); ++i) {
    const Segment& s = segs[i];
    if (i == 0 || s.state != LinkState::kUp) {
      out.push_back(s);
      continue;
    }
    const double acquired_s = s.start_s + acquisition_s;
    if (acquired_s >= s.end_s) {
      out.push_back({s.start_s, s.end_s, LinkState::kAcquiring});
    } else {
      out.push_back({s.start_s, acquired_s, LinkState::kAcquiring});
      out.push_back({acquired_s, s.end_s, LinkState::kUp});
    }
  }
  MergeEqual(out);
  segs = std::move(out);
}

absl::Status ValidateTime(const TimeConfig& time, const LinkPhysics& physics) {
  if (!(time.duration_s > 0.0) || !std::isfinite(time.duration_s)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("time.duration_s must be positive and finite, got %g", time.duration_s));
  }
  if (!(time.step_s > 0.0) || !std::isfinite(time.step_s)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("time.step_s must be positive and finite, got %g", time.step_s));
  }
  if (time.duration_s / time.step_s > 1e9) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "time.duration_s / time.step_s is %g samples; more than 1e9 is not a plan but a mistake",
        time.duration_s / time.step_s));
  }
  if (!(physics.acquisition_s >= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("links.acquisition_s must be non-negative, got %g", physics.acquisition_s));
  }
  return absl::OkStatus();
}

}  // namespace

double RangeSampleStepS(double step_s) {
  const double target_s = std::max(step_s, 10.0);
  return std::max(1.0, std::round(target_s / step_s)) * step_s;
}

absl::StatusOr<ContactPlan> BuildContactPlan(const Constellation& constellation,
                                             const TimeConfig& time, const LinkPhysics& physics,
                                             const FaultConfig& faults, bool include_faults,
                                             int num_threads, absl::Time deadline) {
  RETURN_IF_ERROR(ValidateTime(time, physics));
  for (const Satellite& s : constellation.satellites) {
    if (s.propagator == nullptr) {
      return absl::InvalidArgumentError(absl::StrFormat("satellite %s has no propagator", s.name));
    }
  }
  ASSIGN_OR_RETURN(std::vector<CandidateLink> candidates,
                   MakeCandidateLinks(constellation, physics));
  const Builder builder(constellation, time, physics, candidates, deadline);
  // Every link keeps a float per range sample: bound the product before allocating (in double,
  // which cannot overflow here).
  const double range_values =
      static_cast<double>(builder.num_range_samples()) * static_cast<double>(candidates.size());
  if (range_values > kMaxRangeValues) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "time.duration_s %g at one range sample per %g s over %d links is %g range samples; at "
        "most %g are allowed (shorten the window or use fewer satellites)",
        time.duration_s, builder.range_step_s(), candidates.size(), range_values, kMaxRangeValues));
  }
  std::vector<std::vector<FaultInterval>> fault_intervals;
  if (include_faults) {
    ASSIGN_OR_RETURN(
        fault_intervals,
        GenerateFaults(faults, candidates, static_cast<int>(constellation.satellites.size()),
                       time.duration_s));
  }

  std::vector<Link> links(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    links[i].a = candidates[i].a;
    links[i].b = candidates[i].b;
    links[i].cross_plane = candidates[i].cross_plane;
    links[i].range_km.assign(builder.num_range_samples(), 0.0f);
  }

  int threads = num_threads > 0
                    ? num_threads
                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = static_cast<int>(std::min<int64_t>(threads, builder.last_k()));
  // Slices share their boundary sample, so every change between two samples lies in one slice.
  std::vector<SliceResult> slices(threads);
  std::vector<int64_t> bounds(threads + 1);
  for (int j = 0; j <= threads; ++j) bounds[j] = builder.last_k() * j / threads;
  if (threads == 1) {
    builder.RunSlice(0, builder.last_k(), true, links, slices[0]);
  } else {
    std::vector<std::thread> workers;
    for (int j = 0; j < threads; ++j) {
      workers.emplace_back([&, j] {
        builder.RunSlice(bounds[j], bounds[j + 1], j + 1 == threads, links, slices[j]);
      });
    }
    for (std::thread& w : workers) w.join();
  }
  for (const SliceResult& s : slices) RETURN_IF_ERROR(s.status);  // earliest slice's error

  for (size_t i = 0; i < links.size(); ++i) {
    std::vector<Segment>& segs = links[i].segments;
    double start = 0.0;
    LinkState state = slices[0].first[i];
    for (const SliceResult& s : slices) {
      for (const Change& ch : s.changes[i]) {
        segs.push_back({start, ch.t_s, state});
        start = ch.t_s;
        state = ch.to;
      }
    }
    segs.push_back({start, time.duration_s, state});
    MergeEqual(segs);
    if (include_faults) segs = OverlayFaults(segs, fault_intervals[i]);
    ApplyAcquisition(segs, physics.acquisition_s);
  }

  std::vector<std::string> names;
  names.reserve(constellation.satellites.size());
  for (const Satellite& s : constellation.satellites) names.push_back(s.name);
  return ContactPlan(std::move(names), constellation.epoch, time.duration_s, builder.range_step_s(),
                     physics, include_faults, std::move(links));
}

}  // namespace crosslink::linkmodel
