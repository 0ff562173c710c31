#include "netns_job.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/scenario_builder.h"

namespace crosslink::runtime {
namespace {

// Relay namespaces are cheap but not free (a few ip calls each); a window whose routes wander
// over more satellites than this asks for a shorter window.
constexpr int kMaxNodes = 64;
// Routes between the ranks are sampled this often (orbit seconds) to find the relays they use,
// besides every change of a link between two ranks.
constexpr double kRouteSampleS = 30.0;
constexpr double kDefaultWindowS = 1800.0;
// The ranks' dead-link timeout (CROSSLINK_DEAD_LINK_TIMEOUT_S) unless the user sets one. A link
// the driver sets down with no route around it stalls TCP, whose retransmission timer backs off
// to as much as the outage again before it tries the returned link; a connection that gives up
// after 5 s without acknowledgements is redialled by the resumable layer within half a second of
// the link's return instead. On a live veth, even one shaped to a few Mbit/s with tbf's 100 ms
// queue, acknowledgements never pause for seconds.
constexpr int kDeadLinkTimeoutS = 5;

absl::StatusOr<double> EnvSeconds(const EnvMap& env, const std::string& name, double fallback) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return fallback;
  double value = 0;
  if (!absl::SimpleAtod(it->second, &value) || value < 0) {
    return absl::InvalidArgumentError(absl::StrCat("crosslink-run --netns: ", name,
                                                   " must be a non-negative number, got \"",
                                                   it->second, "\""));
  }
  return value;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NetnsJob>> NetnsJob::Prepare(int num_ranks,
                                                            const std::string& scenario_text,
                                                            const std::string& scenario_path,
                                                            const EnvMap& env) {
  if (scenario_text.empty() || scenario_text == "ideal") {
    return absl::InvalidArgumentError(
        "crosslink-run --netns needs --scenario FILE: the links and their outages come from it");
  }
  // Before the seconds that building the plans takes.
  RETURN_IF_ERROR(NetnsNetwork::CheckRoot());
  std::unique_ptr<NetnsJob> job(new NetnsJob());
  const std::filesystem::path path(scenario_path);
  ASSIGN_OR_RETURN(linkmodel::Scenario scenario,
                   linkmodel::ParseScenario(scenario_text, path.stem().string(),
                                            path.has_parent_path() ? path.parent_path() : "."));
  ASSIGN_OR_RETURN(job->orbit_start_s_, EnvSeconds(env, "CROSSLINK_ORBIT_START_S", 0.0));
  ASSIGN_OR_RETURN(const double scale, EnvSeconds(env, "CROSSLINK_TIME_SCALE", 0.0));
  job->time_scale_ = scale > 0 ? scale : scenario.time.time_scale;
  ASSIGN_OR_RETURN(const double window_s,
                   EnvSeconds(env, "CROSSLINK_NETNS_WINDOW_S", kDefaultWindowS));
  job->user_dead_link_timeout_ = env.count("CROSSLINK_DEAD_LINK_TIMEOUT_S") > 0;

  const absl::Time build_start = absl::Now();
  ASSIGN_OR_RETURN(linkmodel::ScenarioPlans plans, linkmodel::BuildScenarioPlans(scenario));
  ASSIGN_OR_RETURN(std::vector<int> sats,
                   linkmodel::ResolveRankSatellites(scenario, plans.constellation));
  if (static_cast<int>(sats.size()) < num_ranks) {
    return absl::InvalidArgumentError(absl::StrCat("crosslink-run --netns: scenario ",
                                                   scenario.name, " places ", sats.size(),
                                                   " ranks but the job has ", num_ranks));
  }
  sats.resize(num_ranks);
  auto plan = std::make_shared<const linkmodel::ContactPlan>(std::move(plans.truth));
  ASSIGN_OR_RETURN(job->topology_,
                   BuildNetnsTopology(plan, sats, job->orbit_start_s_,
                                      job->orbit_start_s_ + window_s, kRouteSampleS, kMaxNodes));
  ASSIGN_OR_RETURN(job->network_, NetnsNetwork::Create(job->topology_));
  for (int r = 0; r < num_ranks; ++r) {
    const int fd = open(job->network_->NamespacePath(r).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      return absl::InternalError(
          absl::StrCat("crosslink-run --netns: cannot open ", job->network_->NamespacePath(r)));
    }
    job->fds_.push_back(fd);
  }
  std::fprintf(stderr,
               "[crosslink-run --netns] %d namespaces (%d ranks, %d relays), %zu links, from "
               "orbit %.1f s at %gx; built in %.1f s\n",
               job->network_->num_nodes(), num_ranks, job->network_->num_nodes() - num_ranks,
               job->topology_.links.size(), job->orbit_start_s_, job->time_scale_,
               absl::ToDoubleSeconds(absl::Now() - build_start));
  return job;
}

NetnsJob::~NetnsJob() {
  driver_.reset();  // before the links it drives go
  for (int fd : fds_) close(fd);
  if (network_ != nullptr) network_->Destroy();
}

std::vector<std::string> NetnsJob::RankEnv(int rank) const {
  std::vector<std::string> env = {
      absl::StrCat("CROSSLINK_LISTEN_HOST=", network_->NodeAddress(rank)), "CROSSLINK_NETNS=1",
      "CROSSLINK_TRANSPORT=tcp"};
  if (!user_dead_link_timeout_) {
    env.push_back(absl::StrCat("CROSSLINK_DEAD_LINK_TIMEOUT_S=", kDeadLinkTimeoutS));
  }
  return env;
}

absl::Status NetnsJob::StartDriver(const std::string& coordinator_address,
                                   const std::string& token) {
  NetnsDriverOptions options;
  options.orbit_start_s = orbit_start_s_;
  options.time_scale = time_scale_;
  options.coordinator_address = coordinator_address;
  options.job_token = token;
  ASSIGN_OR_RETURN(driver_, NetnsDriver::Start(*network_, topology_, std::move(options)));
  return absl::OkStatus();
}

}  // namespace crosslink::runtime
