#include "communicator_reconnect.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/emulation/contact_plan_timeline.h"
#include "crosslink/collectives/emulation/expiring_timeline.h"
#include "crosslink/collectives/emulation/resume_route.h"

namespace crosslink::runtime {
namespace {

using collectives::Connection;
using collectives::LinkEmulator;

// How long one Accept call of the accept loop blocks, i.e. how soon the resumer stops.
constexpr absl::Duration kAcceptSlice = absl::Milliseconds(200);

// Forwards to a LinkEmulator that the resumer also holds, for its counters.
class SharedEmulatorConnection final : public Connection {
 public:
  explicit SharedEmulatorConnection(std::shared_ptr<LinkEmulator> emulator)
      : emulator_(std::move(emulator)) {}
  ~SharedEmulatorConnection() override {
    emulator_->Close(absl::UnavailableError(absl::StrCat(Describe(), ": connection destroyed")));
  }
  std::shared_ptr<collectives::Handle> Send(const collectives::FrameHeader& header,
                                            absl::Span<const std::byte> payload) override {
    return emulator_->Send(header, payload);
  }
  std::shared_ptr<collectives::Handle> SendWithCrc(const collectives::FrameHeader& header,
                                                   absl::Span<const std::byte> payload,
                                                   uint32_t payload_crc32c) override {
    return emulator_->SendWithCrc(header, payload, payload_crc32c);
  }
  std::shared_ptr<collectives::RecvHandle> Recv(absl::Span<std::byte> buffer) override {
    return emulator_->Recv(buffer);
  }
  std::shared_ptr<collectives::RecvHandle> RecvAllocated(
      std::shared_ptr<std::vector<std::byte>> out) override {
    return emulator_->RecvAllocated(std::move(out));
  }
  void Close(absl::Status reason) override { emulator_->Close(std::move(reason)); }
  absl::Status status() const override { return emulator_->status(); }
  std::string Describe() const override { return emulator_->Describe(); }

 private:
  std::shared_ptr<LinkEmulator> emulator_;
};

bool ResumeDisabledByEnvironment() {
  const char* value = std::getenv("CROSSLINK_RESUME");
  return value != nullptr && std::string(value) == "0";
}

}  // namespace

LinkResumer::LinkResumer(collectives::Context& context, int rank, std::vector<Peer> peers,
                         std::shared_ptr<const collectives::ScenarioClock> clock,
                         collectives::LinkEmulatorOptions emulator_options)
    : context_(context),
      rank_(rank),
      peers_(std::move(peers)),
      clock_(std::move(clock)),
      emulator_options_(emulator_options),
      current_(peers_.size()) {
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

LinkResumer::~LinkResumer() {
  stop_.store(true);
  accept_thread_.join();
}

void LinkResumer::AcceptLoop() {
  while (!stop_.load()) {
    auto accepted = context_.Accept(absl::Now() + kAcceptSlice);
    if (!accepted.ok()) {
      if (accepted.status().code() != absl::StatusCode::kDeadlineExceeded) {
        absl::SleepFor(kAcceptSlice);  // a context in trouble: do not spin
      }
      continue;
    }
    auto& [peer, connection] = *accepted;
    // Only lower ranks dial this one again; anything else is refused by dropping it.
    if (peer < 0 || peer >= rank_) continue;
    absl::MutexLock lock(&mu_);
    accepted_[peer].push_back(std::move(connection));
  }
}

std::unique_ptr<Connection> LinkResumer::Emulate(
    int peer, std::unique_ptr<Connection> connection,
    std::shared_ptr<const collectives::LinkTimeline> timeline) {
  auto emulator = std::make_shared<LinkEmulator>(std::move(connection), std::move(timeline), clock_,
                                                 emulator_options_);
  absl::MutexLock lock(&mu_);
  if (current_[peer] != nullptr) retired_outages_ += current_[peer]->counters().outages_met;
  current_[peer] = emulator;
  return std::make_unique<SharedEmulatorConnection>(std::move(emulator));
}

std::unique_ptr<Connection> LinkResumer::Wrap(int peer, std::unique_ptr<LinkEmulator> emulated) {
  std::shared_ptr<LinkEmulator> shared = std::move(emulated);
  {
    absl::MutexLock lock(&mu_);
    current_[peer] = shared;
  }
  auto resumable = std::make_unique<collectives::ResumableConnection>(
      std::make_unique<SharedEmulatorConnection>(std::move(shared)),
      [this, peer](absl::Time deadline) { return Reconnect(peer, deadline); });
  absl::MutexLock lock(&mu_);
  resumables_.push_back(resumable.get());
  return resumable;
}

absl::StatusOr<std::unique_ptr<Connection>> LinkResumer::Reconnect(int peer, absl::Time deadline) {
  const Peer& link = peers_[peer];
  // Which way: the direct link, a detour, or a wait for either (the plan says until when).
  collectives::ResumeRoute route;
  for (;;) {
    route = collectives::ChooseResumeRoute(*link.direct, link.detour.get(), clock_->OrbitNow());
    if (route.kind != collectives::ResumeRoute::Kind::kWait) break;
    const absl::Time wake = clock_->WallAt(route.wait_until_s);
    if (wake >= deadline) {
      absl::SleepFor(deadline - absl::Now());
      return absl::UnavailableError(absl::StrCat("rank ", rank_, " -> rank ", peer,
                                                 ": waiting for the link: ", route.reason));
    }
    // Past the change by a hair, so that the next look sees the new state.
    absl::SleepFor(wake - absl::Now() + absl::Microseconds(100));
  }
  std::unique_ptr<Connection> connection;
  if (rank_ < peer) {
    ASSIGN_OR_RETURN(connection, context_.Connect(peer, link.address, deadline));
  } else {
    absl::MutexLock lock(&mu_);
    auto arrived = [this, peer]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = accepted_.find(peer);
      return it != accepted_.end() && !it->second.empty();
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&arrived), deadline)) {
      return absl::UnavailableError(absl::StrCat(
          "rank ", rank_, ": rank ", peer, " has not dialled again yet (", route.reason, ")"));
    }
    connection = std::move(accepted_[peer].front());
    accepted_[peer].pop_front();
  }
  const bool detour = route.kind == collectives::ResumeRoute::Kind::kDetour;
  std::fprintf(stderr, "[crosslink] rank %d -> rank %d: reconnected %s: %s\n", rank_, peer,
               detour ? "through a detour" : "over the direct link", route.reason.c_str());
  if (!detour) return Emulate(peer, std::move(connection), link.direct);
  // The detour serves until the direct link is back (route.wait_until_s), then steps aside.
  std::shared_ptr<const collectives::LinkTimeline> timeline = link.detour;
  if (std::isfinite(route.wait_until_s)) {
    timeline = std::make_shared<const collectives::ExpiringTimeline>(
        link.detour, route.wait_until_s,
        absl::StrFormat("the direct link %s is back at t=%.3f s", link.direct->Describe(),
                        route.wait_until_s));
  }
  return Emulate(peer, std::move(connection), std::move(timeline));
}

int64_t LinkResumer::outages_met() const {
  absl::MutexLock lock(&mu_);
  int64_t outages = retired_outages_;
  for (const auto& emulator : current_) {
    if (emulator != nullptr) outages += emulator->counters().outages_met;
  }
  return outages;
}

int64_t LinkResumer::messages_resent() const {
  absl::MutexLock lock(&mu_);
  int64_t resent = 0;
  for (const collectives::ResumableConnection* c : resumables_) {
    resent += c->counters().messages_resent;
  }
  return resent;
}

absl::Status EnableResume(Communicator& comm, Communicator::Impl& impl,
                          const CommunicatorOptions& options,
                          const std::vector<std::string>& data_addresses) {
  if (!options.resume || options.outage_mode != collectives::OutageMode::kCut ||
      comm.true_plan() == nullptr || ResumeDisabledByEnvironment()) {
    return absl::OkStatus();
  }
  const int n = comm.world_size();
  const int rank = comm.rank();
  std::vector<LinkResumer::Peer> peers(n);
  for (int p = 0; p < n; ++p) {
    if (p == rank || impl.emulators[p] == nullptr) continue;
    peers[p].address = data_addresses[p];
    peers[p].direct = impl.timelines[p];
    ASSIGN_OR_RETURN(
        collectives::ContactPlanTimeline detour,
        collectives::ContactPlanTimeline::CreateDetour(
            comm.true_plan(), comm.rank_satellites()[rank], comm.rank_satellites()[p]));
    // A pair without a direct link is routed already: its "detour" is itself, nothing to add.
    if (detour.Describe() != impl.timelines[p]->Describe()) {
      peers[p].detour = std::make_shared<const collectives::ContactPlanTimeline>(std::move(detour));
    }
  }
  impl.resumer = std::make_unique<LinkResumer>(*impl.context, rank, std::move(peers), comm.clock(),
                                               impl.emulator_options);
  for (int p = 0; p < n; ++p) {
    if (p == rank || impl.emulators[p] == nullptr) continue;
    if (impl.connections[p].get() != impl.emulators[p]) {
      return absl::InternalError(absl::StrCat("communicator rank ", rank, ": connection to rank ",
                                              p, " is not its link emulator; cannot resume it"));
    }
    std::unique_ptr<LinkEmulator> emulator(impl.emulators[p]);
    impl.connections[p].release();
    impl.emulators[p] = nullptr;  // the resumer counts its outages from now on
    impl.connections[p] = impl.resumer->Wrap(p, std::move(emulator));
  }
  return absl::OkStatus();
}

int64_t MessagesResent(const Communicator::Impl& impl) {
  return impl.resumer != nullptr ? impl.resumer->messages_resent() : 0;
}

}  // namespace crosslink::runtime
