#include "crosslink/linkmodel/faults.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::linkmodel {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

constexpr uint64_t kLinkStream = 1;
constexpr uint64_t kSatelliteStream = 2;

absl::Status CheckMeans(std::string_view what, double mtbf_s, double mttr_s) {
  auto bad = [](double v) { return !std::isfinite(v) || v < 0.0; };
  if (bad(mtbf_s) || bad(mttr_s)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "faults.%s_mtbf_s and faults.%s_mttr_s must be finite and non-negative, got %g and %g",
        std::string(what), std::string(what), mtbf_s, mttr_s));
  }
  if (mtbf_s > 0.0 && mttr_s <= 0.0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "faults.%s_mtbf_s is %g but faults.%s_mttr_s is 0: a fault needs a repair time",
        std::string(what), mtbf_s, std::string(what)));
  }
  return absl::OkStatus();
}

// Expected number of down intervals stored for one alternating process over duration_s (mean
// cycle mtbf + mttr); 0 when the process is off.
double ExpectedOutages(double mtbf_s, double mttr_s, double duration_s) {
  return mtbf_s > 0.0 ? duration_s / (mtbf_s + mttr_s) : 0.0;
}

// Alternating renewal process starting up at 0: appends its down intervals within the window.
void DrawOutages(FaultRng& rng, double mtbf_s, double mttr_s, double duration_s,
                 std::vector<FaultInterval>& out) {
  double t = rng.Exponential(mtbf_s);
  while (t < duration_s) {
    const double down = rng.Exponential(mttr_s);
    out.push_back({t, std::min(t + down, duration_s)});
    t += down + rng.Exponential(mtbf_s);
  }
}

void SortMerge(std::vector<FaultInterval>& v) {
  std::sort(v.begin(), v.end(), [](const FaultInterval& x, const FaultInterval& y) {
    return x.start_s < y.start_s || (x.start_s == y.start_s && x.end_s < y.end_s);
  });
  size_t w = 0;
  for (size_t r = 0; r < v.size(); ++r) {
    if (v[r].end_s <= v[r].start_s) continue;
    if (w > 0 && v[r].start_s <= v[w - 1].end_s) {
      v[w - 1].end_s = std::max(v[w - 1].end_s, v[r].end_s);
    } else {
      v[w++] = v[r];
    }
  }
  v.resize(w);
}

}  // namespace

FaultRng::FaultRng(uint64_t seed, uint64_t stream_kind, uint64_t index) {
  uint64_t sm = seed;
  // Mix the seed, the kind and the index through SplitMix64 so nearby indices decorrelate.
  uint64_t key = SplitMix64(sm) ^ (stream_kind * 0xD1B54A32D192ED03ull);
  key = SplitMix64(key) ^ index;
  uint64_t state = SplitMix64(key);
  for (uint64_t& s : s_) s = SplitMix64(state);
}

uint64_t FaultRng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double FaultRng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

double FaultRng::Exponential(double mean) { return -std::log(1.0 - Uniform()) * mean; }

absl::StatusOr<std::vector<std::vector<FaultInterval>>> GenerateFaults(
    const FaultConfig& config, const std::vector<CandidateLink>& links, int num_satellites,
    double duration_s) {
  RETURN_IF_ERROR(CheckMeans("link", config.link_mtbf_s, config.link_mttr_s));
  RETURN_IF_ERROR(CheckMeans("satellite", config.satellite_mtbf_s, config.satellite_mttr_s));
  if (num_satellites < 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("num_satellites must be non-negative, got %d", num_satellites));
  }
  // Bound the memory before drawing: every link holds its own faults and the resets of both
  // ends, and the resets are held once more per satellite.
  const double num_links = static_cast<double>(links.size());
  const double expected =
      num_links * ExpectedOutages(config.link_mtbf_s, config.link_mttr_s, duration_s) +
      (2.0 * num_links + num_satellites) *
          ExpectedOutages(config.satellite_mtbf_s, config.satellite_mttr_s, duration_s);
  if (!(expected <= kMaxExpectedFaultIntervals)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "faults: %g s with faults.link_mtbf_s %g + faults.link_mttr_s %g over %d links and "
        "faults.satellite_mtbf_s %g + faults.satellite_mttr_s %g over %d satellites expect %g "
        "outages; at most %g are allowed",
        duration_s, config.link_mtbf_s, config.link_mttr_s, links.size(), config.satellite_mtbf_s,
        config.satellite_mttr_s, num_satellites, expected, kMaxExpectedFaultIntervals));
  }
  std::vector<std::vector<FaultInterval>> result(links.size());
  std::vector<std::vector<FaultInterval>> resets(num_satellites);
  if (config.satellite_mtbf_s > 0.0) {
    for (int s = 0; s < num_satellites; ++s) {
      FaultRng rng(config.seed, kSatelliteStream, static_cast<uint64_t>(s));
      DrawOutages(rng, config.satellite_mtbf_s, config.satellite_mttr_s, duration_s, resets[s]);
    }
  }
  for (size_t i = 0; i < links.size(); ++i) {
    std::vector<FaultInterval>& down = result[i];
    if (config.link_mtbf_s > 0.0) {
      FaultRng rng(config.seed, kLinkStream, static_cast<uint64_t>(i));
      DrawOutages(rng, config.link_mtbf_s, config.link_mttr_s, duration_s, down);
    }
    const CandidateLink& l = links[i];
    if (l.a >= 0 && l.a < num_satellites) {
      down.insert(down.end(), resets[l.a].begin(), resets[l.a].end());
    }
    if (l.b >= 0 && l.b < num_satellites) {
      down.insert(down.end(), resets[l.b].begin(), resets[l.b].end());
    }
    SortMerge(down);
  }
  return result;
}

}  // namespace crosslink::linkmodel
