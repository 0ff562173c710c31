#include "netns_driver.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/coordinator_client.h"
#include "scenario_clock_key.h"

namespace crosslink::runtime {
namespace {

// The link's state and rate at t_s in the true plan.
bool LinkUpAt(const NetnsTopology& topology, int k, double t_s, double* rate_bps) {
  const linkmodel::Link& link = topology.plan->links()[topology.links[k].plan_link];
  const bool up = topology.plan->StateAt(link.a, link.b, t_s) == linkmodel::LinkState::kUp;
  absl::StatusOr<double> rate = topology.plan->RateAt(link.a, link.b, t_s);
  *rate_bps = up && rate.ok() ? *rate : 0.0;
  return up;
}

// A rate that drifted less than this from the applied one is not re-applied (tc calls cost a
// few milliseconds each; the range, and with it the rate, changes slowly).
constexpr double kRateTolerance = 0.02;
// How often the thread re-reads rates between state changes (wall time).
constexpr absl::Duration kRateRefresh = absl::Seconds(2);

}  // namespace

NetnsDriver::NetnsDriver(NetnsNetwork& network, const NetnsTopology& topology,
                         NetnsDriverOptions options)
    : network_(network),
      topology_(topology),
      options_(std::move(options)),
      applied_(topology.links.size(), -1),
      applied_rate_(topology.links.size(), -1) {}

absl::StatusOr<std::unique_ptr<NetnsDriver>> NetnsDriver::Start(NetnsNetwork& network,
                                                                const NetnsTopology& topology,
                                                                NetnsDriverOptions options) {
  std::unique_ptr<NetnsDriver> driver(new NetnsDriver(network, topology, std::move(options)));
  if (absl::Status s = driver->ApplyAt(driver->options_.orbit_start_s); !s.ok()) return s;
  driver->thread_ = std::thread([d = driver.get()] { d->Run(); });
  return driver;
}

NetnsDriver::~NetnsDriver() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool NetnsDriver::SleepUntil(absl::Time until) {
  absl::MutexLock lock(&mu_);
  auto stopped = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_; };
  mu_.AwaitWithDeadline(absl::Condition(&stopped), until);
  return !stop_;
}

absl::Status NetnsDriver::ApplyAt(double t_s) {
  bool changed = false;
  absl::Status first_error;
  // Links between two ranks that changed state: their new routes are logged, so a run's log
  // shows where the kernel took the traffic while a link was down.
  std::vector<int> rank_links_changed;
  for (size_t k = 0; k < topology_.links.size(); ++k) {
    double rate = 0;
    const bool up = LinkUpAt(topology_, static_cast<int>(k), t_s, &rate);
    const bool state_changed = applied_[k] != (up ? 1 : 0);
    const bool rate_changed =
        up && std::abs(rate - applied_rate_[k]) > kRateTolerance * std::max(rate, 1.0);
    if (!state_changed && !rate_changed) continue;
    if (state_changed && applied_[k] != -1) {
      const linkmodel::Link& link = topology_.plan->links()[topology_.links[k].plan_link];
      std::fprintf(
          stderr, "[crosslink-run --netns] orbit %.2f s: %s - %s %s\n", t_s,
          topology_.NodeName(topology_.links[k].node_a).c_str(),
          topology_.NodeName(topology_.links[k].node_b).c_str(),
          up ? "up"
             : std::string(linkmodel::LinkStateName(topology_.plan->StateAt(link.a, link.b, t_s)))
                   .c_str());
    }
    absl::Status s = network_.SetLink(static_cast<int>(k), up, rate);
    if (!s.ok()) {
      if (first_error.ok()) first_error = s;
      continue;
    }
    changed = changed || state_changed;
    const NetnsLink& l = topology_.links[k];
    if (state_changed && applied_[k] != -1 && l.node_a < topology_.num_ranks &&
        l.node_b < topology_.num_ranks) {
      rank_links_changed.push_back(static_cast<int>(k));
    }
    applied_[k] = up ? 1 : 0;
    applied_rate_[k] = up ? rate : -1;
  }
  if (changed) {
    const std::vector<std::vector<int>> next_hop = NetnsRoutesAt(topology_, t_s);
    absl::Status s = network_.ApplyRoutes(next_hop);
    if (first_error.ok()) first_error = s;
    for (int k : rank_links_changed) {
      const NetnsLink& l = topology_.links[k];
      std::fprintf(stderr, "[crosslink-run --netns] orbit %.2f s: rank %d -> rank %d over %s\n",
                   t_s, l.node_a, l.node_b,
                   NetnsRouteDescription(topology_, next_hop, l.node_a, l.node_b).c_str());
    }
  }
  return first_error;
}

void NetnsDriver::Run() {
  // The scenario clock: rank 0 publishes it once it has built the plans.
  CoordinatorClientOptions client_options;
  client_options.address = options_.coordinator_address;
  client_options.job_token = options_.job_token;
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> client =
      CoordinatorClient::Create(client_options);
  if (!client.ok()) {
    std::fprintf(stderr, "[crosslink-run --netns] no coordinator client: %s\n",
                 std::string(client.status().message()).c_str());
    return;
  }
  absl::Time wall_start;
  for (;;) {
    // Short polls, so that a job that ends before publishing a clock stops the driver promptly.
    absl::StatusOr<std::string> value =
        (*client)->KvGet(kScenarioClockKey, absl::Now() + absl::Milliseconds(500));
    int64_t nanos = 0;
    if (value.ok() && absl::SimpleAtoi(*value, &nanos)) {
      wall_start = absl::FromUnixNanos(nanos);
      break;
    }
    if (!SleepUntil(absl::Now() + absl::Milliseconds(100))) return;
  }
  const double scale = options_.time_scale > 0 ? options_.time_scale : 1.0;
  auto orbit_at = [&](absl::Time wall) {
    return options_.orbit_start_s + absl::ToDoubleSeconds(wall - wall_start) * scale;
  };
  auto wall_at = [&](double orbit_s) {
    return wall_start + absl::Seconds((orbit_s - options_.orbit_start_s) / scale);
  };
  const std::vector<double> changes = NetnsStateChanges(topology_, options_.orbit_start_s - 1e-9,
                                                        std::numeric_limits<double>::infinity());
  for (;;) {
    const double now_s = orbit_at(absl::Now());
    if (absl::Status s = ApplyAt(now_s); !s.ok()) {
      std::fprintf(stderr, "[crosslink-run --netns] orbit %.2f s: %s\n", now_s,
                   std::string(s.message()).c_str());
    }
    auto next = std::upper_bound(changes.begin(), changes.end(), now_s);
    absl::Time wake = absl::Now() + kRateRefresh;
    // A hair after the change, so that the plan's state at the wake-up time is the new one.
    if (next != changes.end()) wake = std::min(wake, wall_at(*next + 1e-6));
    if (!SleepUntil(wake)) return;
  }
}

}  // namespace crosslink::runtime
