// Communicator: joining the job (register, full mesh, scenario emulation, shared clock) and
// leaving it. The collectives themselves are in communicator_collectives.cc.
#include "crosslink/runtime/communicator.h"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/emulation/contact_plan_timeline.h"
#include "crosslink/collectives/emulation/latency_only_timeline.h"
#include "crosslink/collectives/planning/plan_choice.h"
#include "crosslink/collectives/transport/tcp_transport.h"
#include "crosslink/linkmodel/scenario_builder.h"
#include "crosslink/runtime/launch_env.h"
#include "data_transport.h"
#include "embedded_coordinator.h"
#include "scenario_clock_key.h"

namespace crosslink::runtime {
namespace {

// The transport's 64-bit job id, which every frame and handshake carries so that a connection
// from another job is refused at once. The ranks need it before they learn the coordinator's job
// id (the data address they register must already be listening), so it is derived from the job
// token, which every rank has (an HMAC of it: the id travels in clear and reveals nothing). What
// authenticates a data connection is the job key, also derived from the token
// (MakeDataContext); the token itself never travels on the data plane.
uint64_t TransportJobId(const std::string& token) { return collectives::DeriveJobTag(token); }

// The scenario's "ideal" spelling: no emulation.
bool IsIdealScenarioText(const std::string& text) { return text.empty() || text == "ideal"; }

// Ranks whose data address ("host:port") names the same host as rank `rank`'s, itself included.
int RanksOnThisHost(const std::vector<std::string>& addresses, int rank) {
  auto host = [](const std::string& address) { return address.substr(0, address.rfind(':')); };
  const std::string mine = host(addresses[rank]);
  return static_cast<int>(std::count_if(addresses.begin(), addresses.end(),
                                        [&](const std::string& a) { return host(a) == mine; }));
}

}  // namespace

void EmulateLink(Communicator& comm, Communicator::Impl& impl, int peer) {
  auto emulator = std::make_unique<collectives::LinkEmulator>(
      std::move(impl.connections[peer]), impl.timelines[peer], comm.clock(), impl.emulator_options);
  {
    absl::MutexLock lock(&impl.state_mu);  // outages_met() reads the entries
    impl.emulators[peer] = emulator.get();
  }
  impl.connections[peer] = std::move(emulator);
}

absl::Status ConnectMesh(Communicator& comm, Communicator::Impl& impl,
                         const std::vector<int>& members, absl::Time deadline) {
  const int rank = comm.rank();
  // With resume the resumer's loop owns the accept queue: each pair connects through it, and its
  // connections come back emulated and resumable (a rebuilt link resumes after later cuts too).
  if (impl.resumer != nullptr) {
    for (int p : members) {
      if (p == rank) continue;
      absl::StatusOr<std::unique_ptr<collectives::Connection>> connection =
          impl.resumer->Connect(p, deadline);
      if (!connection.ok()) {
        return absl::Status(
            connection.status().code(),
            absl::StrCat("communicator rank ", rank, ": no data connection to rank ", p, ": ",
                         connection.status().message()));
      }
      impl.connections[p] = *std::move(connection);
    }
    return absl::OkStatus();
  }
  // Every rank connects to the members above it, then accepts the ones below. The transport's
  // accept thread takes connections before Accept is called, so the connects of all ranks
  // proceed at once and no rank waits for another to reach its accept loop.
  int below = 0;
  for (int p : members) {
    if (p < rank) ++below;
    if (p <= rank) continue;
    ASSIGN_OR_RETURN(impl.connections[p],
                     impl.context->Connect(p, impl.data_addresses[p], deadline));
  }
  for (int accepted = 0; accepted < below; ++accepted) {
    auto peer = impl.context->Accept(deadline);
    if (!peer.ok()) {
      std::vector<int> missing;
      for (int p : members) {
        if (p < rank && impl.connections[p] == nullptr) missing.push_back(p);
      }
      return absl::Status(
          peer.status().code(),
          absl::StrCat("communicator rank ", rank, ": no data connection from ranks [",
                       absl::StrJoin(missing, ", "), "]: ", peer.status().message()));
    }
    auto& [peer_rank, connection] = *peer;
    if (peer_rank < 0 || peer_rank >= rank || impl.connections[peer_rank] != nullptr ||
        !std::binary_search(members.begin(), members.end(), peer_rank)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "communicator rank ", rank, ": unexpected data connection from rank ", peer_rank));
    }
    impl.connections[peer_rank] = std::move(connection);
  }
  // Create wraps its first mesh after building the timelines; a rebuilt mesh plays them at once.
  for (int p : members) {
    if (p != rank && p < static_cast<int>(impl.timelines.size()) && impl.timelines[p] != nullptr) {
      EmulateLink(comm, impl, p);
    }
  }
  return absl::OkStatus();
}

Communicator::Communicator() : impl_(std::make_unique<Impl>()) {}

Communicator::~Communicator() {
  if (client_ != nullptr) client_->StopHeartbeats();
  for (auto& connection : impl_->connections) {  // the graveyard's are closed already
    if (connection != nullptr) {
      connection->Close(
          absl::UnavailableError(absl::StrCat("rank ", rank_, " closed its communicator")));
    }
  }
}

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::Create(CommunicatorOptions options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("communicator: rank ", options.rank,
                                                   " outside a world of ", options.world_size));
  }
  if (options.coordinator_address.empty() || options.job_token.empty()) {
    return absl::InvalidArgumentError(
        "communicator: coordinator address and job token are required");
  }
  if (options.coordinator_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("communicator: coordinator_timeout must be positive, got ",
                     absl::FormatDuration(options.coordinator_timeout)));
  }
  const absl::Time deadline = absl::Now() + options.setup_timeout;
  const int rank = options.rank;
  const int n = options.world_size;

  std::unique_ptr<Communicator> comm(new Communicator());
  comm->rank_ = rank;
  comm->world_size_ = n;
  comm->transport_job_id_ = TransportJobId(options.job_token);
  Impl& impl = *comm->impl_;

  // TCP, upgraded to shared memory between ranks of this host when the job wants it.
  ASSIGN_OR_RETURN(std::unique_ptr<collectives::ShmContext> data_context,
                   MakeDataContext(rank, comm->transport_job_id_, options));
  collectives::ShmContext& shm_context = *data_context;
  impl.context = std::move(data_context);

  // Before this rank registers with it (the other ranks' Register waits for it to come up).
  if (options.host_coordinator && rank == 0) {
    ASSIGN_OR_RETURN(comm->embedded_coordinator_, StartEmbeddedCoordinator(options));
  }

  CoordinatorClientOptions client_options;
  client_options.address = options.coordinator_address;
  client_options.job_token = options.job_token;
  client_options.rank = rank;
  client_options.tls_ca_file = options.coordinator_tls_ca_file;
  client_options.retry_unavailable_for = options.coordinator_timeout;
  ASSIGN_OR_RETURN(comm->client_, CoordinatorClient::Create(client_options));
  ASSIGN_OR_RETURN(const std::string data_address,
                   RegisteredDataAddress(impl.context->address(), options.coordinator_address));
  if (options.rejoin && !options.elastic) {
    return absl::InvalidArgumentError(
        absl::StrCat("communicator rank ", rank,
                     ": rejoining needs an elastic communicator (CROSSLINK_ELASTIC=1)"));
  }
  // A restarted rank waits here until the live ranks admit it at their next step boundary.
  ASSIGN_OR_RETURN(World world, options.rejoin
                                    ? comm->client_->Rejoin(n, data_address, deadline)
                                    : comm->client_->Register(n, data_address, deadline));
  if (world.world_size != n || static_cast<int>(world.data_addresses.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "communicator rank ", rank, ": coordinator reports a world of ", world.world_size,
        " ranks with ", world.data_addresses.size(), " addresses, this rank expected ", n));
  }
  comm->job_id_ = world.job_id;
  {
    absl::MutexLock lock(&impl.state_mu);
    impl.membership = world.membership;
  }
  // Heartbeats start at once: building a scenario's contact plan and connecting the mesh can take
  // seconds on a loaded machine, longer than the coordinator waits for a silent rank.
  HeartbeatOptions heartbeat;
  Communicator* self = comm.get();
  heartbeat.on_change = [self](const Membership& m) { self->OnMembershipChange(m); };
  heartbeat.on_error = [self](const absl::Status& s) { self->OnHeartbeatError(s); };
  heartbeat.coordinator_timeout = options.coordinator_timeout;
  RETURN_IF_ERROR(comm->client_->StartHeartbeats(std::move(heartbeat)));

  SetSharedMemoryOffer(shm_context, options.transport,
                       options.ideal || IsIdealScenarioText(world.scenario_text));
  impl.connections.resize(n);
  impl.data_addresses = world.data_addresses;
  std::vector<int> everyone(n);
  for (int p = 0; p < n; ++p) everyone[p] = p;
  // A rejoined process builds its mesh at its first Quorum, with the other live ranks'
  // (communicator_elastic.cc EnsureMesh), as they rebuild theirs for the epoch that admitted it.
  if (!options.rejoin) RETURN_IF_ERROR(ConnectMesh(*comm, impl, everyone, deadline));

  impl.transport_summary = SummarizeTransports(impl.connections, options.data_tls);

  // The scenario: the coordinator serves every rank the same text.
  impl.emulators.assign(n, nullptr);
  impl.timelines.assign(n, nullptr);
  if (!options.ideal && !IsIdealScenarioText(world.scenario_text)) {
    std::filesystem::path dir = options.scenario_path.parent_path();
    if (dir.empty()) dir = ".";
    const std::string name =
        options.scenario_path.empty() ? "scenario" : options.scenario_path.stem().string();
    ASSIGN_OR_RETURN(linkmodel::Scenario scenario,
                     linkmodel::ParseScenario(world.scenario_text, name, dir));
    // One thread: the ranks of a local job already share the machine's cores.
    ASSIGN_OR_RETURN(linkmodel::ScenarioPlans plans,
                     linkmodel::BuildScenarioPlans(scenario, /*num_threads=*/1, deadline));
    ASSIGN_OR_RETURN(comm->rank_satellites_,
                     linkmodel::ResolveRankSatellites(scenario, plans.constellation));
    if (static_cast<int>(comm->rank_satellites_.size()) < n) {
      return absl::InvalidArgumentError(
          absl::StrCat("scenario ", scenario.name, ": [cluster] satellites names ",
                       comm->rank_satellites_.size(), " satellites but the job has ", n,
                       " ranks; every rank needs a satellite"));
    }
    comm->true_plan_ = std::make_shared<const linkmodel::ContactPlan>(std::move(plans.truth));
    impl.predicted_plan =
        std::make_shared<const linkmodel::ContactPlan>(std::move(plans.predicted));

    // Orbit time 0 plays at one wall instant on every rank: rank 0 picks it, the others read it.
    absl::Time wall_start;
    if (rank == 0 && !options.rejoin) {
      wall_start = absl::Now();
      RETURN_IF_ERROR(comm->client_->KvSet(kScenarioClockKey,
                                           absl::StrCat(absl::ToUnixNanos(wall_start)), deadline));
    } else {
      ASSIGN_OR_RETURN(std::string value, comm->client_->KvGet(kScenarioClockKey, deadline));
      int64_t nanos = 0;
      if (!absl::SimpleAtoi(value, &nanos)) {
        return absl::InvalidArgumentError(
            absl::StrCat("communicator rank ", rank, ": bad scenario clock start \"", value, "\""));
      }
      wall_start = absl::FromUnixNanos(nanos);
    }
    comm->clock_ = std::make_shared<const collectives::ScenarioClock>(
        options.orbit_start_s,
        options.time_scale > 0 ? options.time_scale : scenario.time.time_scale, wall_start);

    collectives::LinkEmulatorOptions& emulator_options = impl.emulator_options;
    emulator_options.mode = options.outage_mode;
    // The scenario's bit errors ([faults] corruption_mtbf_s): the receiver's CRC32C check turns
    // each into kDataLoss naming the link.
    emulator_options.corruption_mtbf_s = scenario.faults.corruption_mtbf_s;
    emulator_options.corruption_seed = scenario.faults.seed;
    // An emulator spins out the last stretch before each delivery for timing precision; on a
    // host with more ranks than cores that CPU comes out of the ranks' own work (8 training
    // ranks on 2 cores lost some 10 % of their step time to it), so there it only sleeps.
    if (RanksOnThisHost(world.data_addresses, rank) >=
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))) {
      emulator_options.spin_window = absl::ZeroDuration();
    }
    for (int p = 0; p < n; ++p) {
      if (p == rank) continue;
      ASSIGN_OR_RETURN(
          collectives::ContactPlanTimeline timeline,
          collectives::ContactPlanTimeline::Create(comm->true_plan_, comm->rank_satellites_[rank],
                                                   comm->rank_satellites_[p]));
      impl.timelines[p] =
          std::make_shared<const collectives::ContactPlanTimeline>(std::move(timeline));
      if (options.kernel_links) {
        // Only latency is ours to play; while the direct link is down the kernel takes the
        // detour, whose latency the packets then meet.
        ASSIGN_OR_RETURN(
            collectives::ContactPlanTimeline detour,
            collectives::ContactPlanTimeline::CreateDetour(
                comm->true_plan_, comm->rank_satellites_[rank], comm->rank_satellites_[p]));
        impl.timelines[p] = std::make_shared<const collectives::LatencyOnlyTimeline>(
            impl.timelines[p],
            std::make_shared<const collectives::ContactPlanTimeline>(std::move(detour)));
      }
      if (impl.connections[p] != nullptr) EmulateLink(*comm, impl, p);
    }
    comm->scenario_ = std::move(scenario);
    // In cut mode, cut links resume instead of failing (communicator_reconnect.h).
    RETURN_IF_ERROR(EnableResume(*comm, impl, options, world.data_addresses));
  }
  {
    absl::MutexLock lock(&impl.state_mu);
    impl.raw_connections.assign(n, nullptr);
    for (int p = 0; p < n; ++p) impl.raw_connections[p] = impl.connections[p].get();
  }
  {
    absl::MutexLock lock(&impl.collective_mu);
    impl.elastic = options.elastic;
    // A rejoined process has no mesh yet: epoch 0 makes its first Quorum build one.
    impl.mesh_epoch = options.rejoin ? 0 : world.membership.epoch;
    impl.live = options.rejoin ? std::vector<int>{} : everyone;
    impl.sync_base_epoch = impl.mesh_epoch;
    impl.has_state.store(!options.rejoin);
    {
      absl::MutexLock state_lock(&impl.state_mu);
      impl.links_epoch = impl.mesh_epoch;
    }
    collectives::CollectiveContext& context = impl.collective;
    context.rank = rank;
    context.world_size = n;
    context.job_id = comm->transport_job_id_;
    for (const auto& connection : impl.connections) context.connections.push_back(connection.get());
    context.sequence = 1;
    context.plan_cache = std::make_shared<collectives::PlanCache>();
    // kAuto must pick the same algorithm on every rank: a rank choosing ring while its peers
    // choose tree waits for messages that never come. Each rank's own links differ (one may just
    // have come back from an outage), so the hints are a job constant: the slowest ring link of
    // the job at the clock's starting orbit time, computed by every rank from the same true plan.
    // Following the links as they change is the contact-aware planner's job.
    context.cost_hints = collectives::kLoopbackCostHints;
    if (comm->clock_ != nullptr && n >= 2) {
      context.cost_hints = collectives::RingLinkHints(
          *comm->true_plan_,
          absl::MakeConstSpan(comm->rank_satellites_).subspan(0, static_cast<size_t>(n)),
          comm->clock_->orbit_start_s());
    }
  }

  // Publish the connections to the heartbeat callbacks, then apply any death they saw while the
  // mesh and the scenario were being set up.
  Membership seen;
  {
    absl::MutexLock lock(&impl.state_mu);
    impl.connections_ready = true;
    seen = impl.membership;
  }
  comm->OnMembershipChange(seen);
  return comm;
}

absl::Status ApplyEnvironmentTuning(CommunicatorOptions& options) {
  if (const char* host = std::getenv("CROSSLINK_LISTEN_HOST"); host != nullptr && *host != '\0') {
    options.listen_host = host;
  }
  if (const char* t = std::getenv("CROSSLINK_TRANSPORT"); t != nullptr && *t != '\0') {
    ASSIGN_OR_RETURN(options.transport, ParseDataTransport(t));
  }
  if (const char* netns = std::getenv("CROSSLINK_NETNS"); netns != nullptr) {
    options.kernel_links = std::string(netns) == "1";
  }
  if (const char* text = std::getenv("CROSSLINK_DEAD_LINK_TIMEOUT_S");
      text != nullptr && *text != '\0') {
    // Bounded so that the keepalive settings derived from it stay in range.
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(text, &seconds) || seconds < 2 || seconds > 3600) {
      return absl::InvalidArgumentError(
          absl::StrCat("CROSSLINK_DEAD_LINK_TIMEOUT_S must be whole seconds from 2 to 3600, got \"",
                       text, "\""));
    }
    options.dead_link_timeout = absl::Seconds(seconds);
  }
  if (const char* elastic = std::getenv("CROSSLINK_ELASTIC"); elastic != nullptr) {
    options.elastic = std::string(elastic) == "1";
  }
  // crosslink-run --max-restarts (or a Slurm step that re-launches its rank) counts restarts.
  if (const char* restarts = std::getenv("CROSSLINK_RESTART_COUNT");
      restarts != nullptr && *restarts != '\0') {
    int count = 0;
    if (!absl::SimpleAtoi(restarts, &count) || count < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CROSSLINK_RESTART_COUNT must be a non-negative integer, got \"", restarts, "\""));
    }
    options.rejoin = count > 0;
  }
  RETURN_IF_ERROR(ApplyCoordinatorFaultEnvironment(ProcessEnv(), options));
  if (const char* mode = std::getenv("CROSSLINK_OUTAGE_MODE"); mode != nullptr && *mode != '\0') {
    const std::string value = mode;
    if (value == "cut") {
      options.outage_mode = collectives::OutageMode::kCut;
    } else if (value == "hold") {
      options.outage_mode = collectives::OutageMode::kHold;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("CROSSLINK_OUTAGE_MODE must be \"hold\" or \"cut\", got \"", value, "\""));
    }
  }
  // Benchmarks start the orbit clock elsewhere and speed it up (communicator.h).
  for (auto [name, field] : {std::pair{"CROSSLINK_ORBIT_START_S", &options.orbit_start_s},
                             std::pair{"CROSSLINK_TIME_SCALE", &options.time_scale}}) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') continue;
    if (!absl::SimpleAtod(text, field) || *field < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, " must be a non-negative number of seconds, got \"", text, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::CreateFromEnvironment(
    absl::Duration timeout) {
  ASSIGN_OR_RETURN(LaunchEnv env, LaunchEnvFromProcess());
  CommunicatorOptions options;
  options.rank = env.rank;
  options.world_size = env.world_size;
  options.coordinator_address = absl::StrCat(env.master_addr, ":", env.master_port);
  options.job_token = env.job_token;
  options.scenario_path = env.scenario_path;
  options.setup_timeout = timeout;
  RETURN_IF_ERROR(ApplyCoordinatorEnvironment(env, ProcessEnv(), options));
  RETURN_IF_ERROR(ApplyEnvironmentTuning(options));
  return Create(std::move(options));
}

void Communicator::OnMembershipChange(const Membership& membership) {
  std::vector<collectives::Connection*> connections;
  bool stale_mesh = false;
  {
    absl::MutexLock lock(&impl_->state_mu);
    // Views only move forward (a collective's own query may have stored a newer one).
    if (membership.epoch >= impl_->membership.epoch) impl_->membership = membership;
    // During Create the mesh is still being built; Create applies the membership at its end.
    if (!impl_->connections_ready) return;
    // An elastic rebuild keeps replaced connections alive (Impl::graveyard), so the pointers
    // stay valid after the lock is released.
    connections = impl_->raw_connections;
    // Elastic: the mesh belongs to an earlier epoch, whose collectives cannot complete everywhere
    // any more. A survivor waiting on a live peer that already left the collective (it finished
    // it, or retired its mesh for the new epoch) would wait for its deadline (a resumable link
    // even takes the peer's close for a cut and resumes), so every link of the mesh ends now;
    // the next Quorum rebuilds the mesh for the new epoch anyway.
    stale_mesh = impl_->elastic && impl_->links_epoch > 0 && membership.epoch > impl_->links_epoch;
  }
  if (stale_mesh) {
    const absl::Status moved = absl::AbortedError(
        absl::StrCat("rank ", rank_, ": the membership moved to epoch ", membership.epoch, " (",
                     membership.dead_ranks.empty()
                         ? std::string("an admission")
                         : absl::StrCat("rank ", membership.dead_ranks.back().rank,
                                        " died: ", membership.dead_ranks.back().reason),
                     ")"));
    for (int p = 0; p < static_cast<int>(connections.size()); ++p) {
      if (connections[p] != nullptr && membership.FindDead(p) == nullptr) {
        connections[p]->Close(moved);
      }
    }
  }
  // Close the connections to dead ranks so that a collective waiting on one fails at once,
  // with a status that names the rank and why the coordinator declared it dead.
  for (const DeadRank& dead : membership.dead_ranks) {
    if (dead.rank == rank_ || dead.rank < 0 || dead.rank >= world_size_) continue;
    collectives::Connection* connection = connections[dead.rank];
    if (connection == nullptr) continue;
    connection->Close(absl::AbortedError(absl::StrCat("rank ", dead.rank, " died (", dead.reason,
                                                      ", membership epoch ", dead.epoch, ")")));
  }
  if (membership.FindDead(rank_) != nullptr) {
    OnHeartbeatError(absl::AbortedError(absl::StrCat(
        "rank ", rank_,
        " was declared dead by the coordinator: ", membership.FindDead(rank_)->reason)));
  }
}

void Communicator::OnHeartbeatError(const absl::Status& status) {
  // Every error the heartbeats report ends this rank's collectives: a verdict on this rank
  // (kAborted), a refused token or view, a job that ended, or a coordinator lost for longer than
  // coordinator_timeout (kUnavailable): without a coordinator no death would be detected, so a
  // collective waiting on a dead peer would hang until its deadline. An epoch regression
  // (kFailedPrecondition: another job's coordinator answers) too.
  std::vector<collectives::Connection*> connections;
  {
    absl::MutexLock lock(&impl_->state_mu);
    if (status.code() != absl::StatusCode::kAborted && impl_->broken.ok()) {
      impl_->broken = absl::Status(
          status.code(),
          absl::StrCat("rank ", rank_, ": the job coordinator failed: ", status.message()));
    }
    if (!impl_->connections_ready) return;
    connections = impl_->raw_connections;
  }
  for (collectives::Connection* connection : connections) {
    if (connection != nullptr) connection->Close(status);
  }
}

Membership Communicator::membership() const {
  // Another coordinator call of this rank (a barrier, a quorum, a key-value read) may have brought
  // back a view newer than the last heartbeat's; one accessor keeps the mesh rebuild and the
  // torch glue's epoch check from disagreeing about which epoch the job is in.
  Membership seen = client_->last_membership();
  absl::MutexLock lock(&impl_->state_mu);
  if (seen.epoch > impl_->membership.epoch) impl_->membership = std::move(seen);
  return impl_->membership;
}

CollectiveStats Communicator::last_stats() const {
  absl::MutexLock lock(&impl_->state_mu);
  return impl_->last_stats;
}

int64_t Communicator::outages_met() const {
  int64_t outages = 0;
  {
    absl::MutexLock lock(&impl_->state_mu);
    outages = impl_->retired_outages;
    for (collectives::LinkEmulator* emulator : impl_->emulators) {
      if (emulator != nullptr) outages += emulator->counters().outages_met;
    }
  }
  if (impl_->resumer != nullptr) outages += impl_->resumer->outages_met();
  return outages;
}

}  // namespace crosslink::runtime
