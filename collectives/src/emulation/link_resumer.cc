#include "crosslink/collectives/emulation/link_resumer.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/emulation/expiring_timeline.h"
#include "crosslink/collectives/emulation/resume_route.h"

namespace crosslink::collectives {
namespace {

// Forwards to a LinkEmulator that the resumer also holds, for its counters.
class SharedEmulatorConnection final : public Connection {
 public:
  explicit SharedEmulatorConnection(std::shared_ptr<LinkEmulator> emulator)
      : emulator_(std::move(emulator)) {}
  ~SharedEmulatorConnection() override {
    emulator_->Close(absl::UnavailableError(absl::StrCat(Describe(), ": connection destroyed")));
  }
  std::shared_ptr<Handle> Send(const FrameHeader& header,
                               absl::Span<const std::byte> payload) override {
    return emulator_->Send(header, payload);
  }
  std::shared_ptr<Handle> SendWithCrc(const FrameHeader& header,
                                      absl::Span<const std::byte> payload,
                                      uint32_t payload_crc32c) override {
    return emulator_->SendWithCrc(header, payload, payload_crc32c);
  }
  std::shared_ptr<RecvHandle> Recv(absl::Span<std::byte> buffer) override {
    return emulator_->Recv(buffer);
  }
  std::shared_ptr<RecvHandle> RecvAllocated(std::shared_ptr<std::vector<std::byte>> out) override {
    return emulator_->RecvAllocated(std::move(out));
  }
  void Close(absl::Status reason) override { emulator_->Close(std::move(reason)); }
  absl::Status status() const override { return emulator_->status(); }
  std::string Describe() const override { return emulator_->Describe(); }

 private:
  std::shared_ptr<LinkEmulator> emulator_;
};

}  // namespace

LinkResumer::LinkResumer(Context& context, int rank, std::vector<Peer> peers,
                         std::shared_ptr<const ScenarioClock> clock,
                         LinkEmulatorOptions emulator_options, ResumableOptions resumable_options)
    : context_(context),
      rank_(rank),
      peers_(std::move(peers)),
      clock_(std::move(clock)),
      emulator_options_(emulator_options),
      resumable_options_(resumable_options),
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

std::unique_ptr<Connection> LinkResumer::Emulate(int peer, std::unique_ptr<Connection> connection,
                                                 std::shared_ptr<const LinkTimeline> timeline) {
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
  auto resumable = std::make_unique<ResumableConnection>(
      std::make_unique<SharedEmulatorConnection>(std::move(shared)),
      [this, peer](absl::Time deadline) { return Reconnect(peer, deadline); }, resumable_options_);
  absl::MutexLock lock(&mu_);
  resumables_.push_back(resumable.get());
  return resumable;
}

absl::StatusOr<std::unique_ptr<Connection>> LinkResumer::ConnectResumable(int peer,
                                                                          absl::Time deadline) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, Reconnect(peer, deadline));
  auto resumable = std::make_unique<ResumableConnection>(
      std::move(connection),
      [this, peer](absl::Time deadline) { return Reconnect(peer, deadline); }, resumable_options_);
  absl::MutexLock lock(&mu_);
  resumables_.push_back(resumable.get());
  return resumable;
}

void LinkResumer::SetPeerAddress(int peer, std::string address) {
  absl::MutexLock lock(&mu_);
  moved_addresses_[peer] = std::move(address);
}

absl::StatusOr<std::unique_ptr<Connection>> LinkResumer::Reconnect(int peer, absl::Time deadline) {
  const Peer& link = peers_[peer];
  // Which way: the direct link, a detour, or a wait for either (the plan says until when).
  ResumeRoute route;
  for (;;) {
    route = ChooseResumeRoute(*link.direct, link.detour.get(), clock_->OrbitNow());
    if (route.kind != ResumeRoute::Kind::kWait) break;
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
    std::string address;
    {
      absl::MutexLock lock(&mu_);
      const auto moved = moved_addresses_.find(peer);
      address = moved != moved_addresses_.end() ? moved->second : link.address;
    }
    ASSIGN_OR_RETURN(connection, context_.Connect(peer, address, deadline));
  } else {
    absl::MutexLock lock(&mu_);
    auto arrived = [this, peer]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = accepted_.find(peer);
      if (it == accepted_.end()) return false;
      // A connection whose dialler has gone (a process that died after dialling, replaced by a
      // new one in an elastic job) is dropped rather than handed out.
      while (!it->second.empty() && !it->second.front()->status().ok()) it->second.pop_front();
      return !it->second.empty();
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&arrived), deadline)) {
      return absl::UnavailableError(absl::StrCat(
          "rank ", rank_, ": rank ", peer, " has not dialled again yet (", route.reason, ")"));
    }
    connection = std::move(accepted_[peer].front());
    accepted_[peer].pop_front();
  }
  const bool detour = route.kind == ResumeRoute::Kind::kDetour;
  std::fprintf(stderr, "[crosslink] rank %d -> rank %d: reconnected %s: %s\n", rank_, peer,
               detour ? "through a detour" : "over the direct link", route.reason.c_str());
  if (!detour) return Emulate(peer, std::move(connection), link.direct);
  // The detour serves until the direct link is back (route.wait_until_s), then steps aside.
  std::shared_ptr<const LinkTimeline> timeline = link.detour;
  if (std::isfinite(route.wait_until_s)) {
    timeline = std::make_shared<const ExpiringTimeline>(
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
  for (const ResumableConnection* c : resumables_) {
    resent += c->counters().messages_resent;
  }
  return resent;
}

}  // namespace crosslink::collectives
