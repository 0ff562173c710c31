// Resuming a communicator's links after a surprise cut (OutageMode::kCut): every connection of a
// job with a scenario is wrapped in a collectives::ResumableConnection whose Reconnect function
// is LinkResumer::Reconnect. When a cut breaks a link mid-collective, the lower rank of the pair
// dials the higher one again (as when the mesh was built) and the higher one takes the
// connection from the accept thread that LinkResumer runs after Create; each wraps the new TCP
// connection in a fresh LinkEmulator that plays, in this order of preference (ResumeRoute):
//   the direct link, when the true plan has it up now;
//   a detour through relay satellites (ContactPlanTimeline::CreateDetour), when one is up now,
//   played only until the direct link returns (ExpiringTimeline): the first message after that
//   cuts the detour and the link resumes over the direct path, so the relay latency lasts no
//   longer than the outage;
//   otherwise nothing yet: it waits until the plan says the link (or a detour) returns.
// The choice is logged on stderr. The executor and the plans never notice more than a delay.
// Enabled when the job has a scenario, outage_mode is kCut and options.resume is set (the
// environment variable CROSSLINK_RESUME=0 turns it off).
//
// Thread-safety: Reconnect runs on the ResumableConnections' pump threads, the accept loop on
// its own thread, the counters from any thread. Ownership: Communicator::Impl owns the resumer;
// it must outlive the connections (declared before them in Impl) and the context must outlive it.
#ifndef CROSSLINK_RUNTIME_SRC_COMMUNICATOR_RECONNECT_H_
#define CROSSLINK_RUNTIME_SRC_COMMUNICATOR_RECONNECT_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crosslink/collectives/emulation/link_emulator.h"
#include "crosslink/collectives/emulation/link_timeline.h"
#include "crosslink/collectives/emulation/scenario_clock.h"
#include "crosslink/collectives/transport/resumable_connection.h"
#include "crosslink/collectives/transport/transport.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {

class LinkResumer {
 public:
  struct Peer {
    std::string address;  // the peer's data address, for the lower rank's dial
    std::shared_ptr<const collectives::LinkTimeline> direct;
    std::shared_ptr<const collectives::LinkTimeline> detour;  // nullptr: none to take
  };

  LinkResumer(collectives::Context& context, int rank, std::vector<Peer> peers,
              std::shared_ptr<const collectives::ScenarioClock> clock,
              collectives::LinkEmulatorOptions emulator_options);
  // Stops the accept thread (within a fraction of a second).
  ~LinkResumer();

  // Wraps `emulated` (this rank's LinkEmulator to `peer`, as Create built it) in a
  // ResumableConnection that comes back through Reconnect.
  std::unique_ptr<collectives::Connection> Wrap(
      int peer, std::unique_ptr<collectives::LinkEmulator> emulated);

  // A new emulated connection to `peer` by `deadline` (ResumableConnection::Reconnect):
  // kUnavailable while the link and every detour stay down or the peer does not answer.
  absl::StatusOr<std::unique_ptr<collectives::Connection>> Reconnect(int peer, absl::Time deadline);

  // Outages met by every emulator this rank has used, and messages resent, summed over links.
  int64_t outages_met() const;
  int64_t messages_resent() const;

 private:
  void AcceptLoop();
  // Builds the LinkEmulator that plays `timeline` over `connection` and makes it peer's current.
  std::unique_ptr<collectives::Connection> Emulate(
      int peer, std::unique_ptr<collectives::Connection> connection,
      std::shared_ptr<const collectives::LinkTimeline> timeline);

  collectives::Context& context_;
  const int rank_;
  const std::vector<Peer> peers_;
  const std::shared_ptr<const collectives::ScenarioClock> clock_;
  const collectives::LinkEmulatorOptions emulator_options_;

  mutable absl::Mutex mu_;
  // Connections the higher-ranked end accepted, by the dialling peer, for its Reconnect.
  std::map<int, std::deque<std::unique_ptr<collectives::Connection>>> accepted_
      ABSL_GUARDED_BY(mu_);
  // Each peer's current emulator (shared with the connection that forwards to it), and the
  // outages of the ones retired.
  std::vector<std::shared_ptr<collectives::LinkEmulator>> current_ ABSL_GUARDED_BY(mu_);
  int64_t retired_outages_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<collectives::ResumableConnection*> resumables_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
};

// Wraps impl.connections (LinkEmulators; impl.emulators then no longer points at them: the
// resumer counts their outages) when resume applies to this job (see the header comment), and
// sets impl.resumer. Call at the end of Create's scenario setup. Errors: a detour timeline that
// cannot be built (kInvalidArgument).
absl::Status EnableResume(Communicator& comm, Communicator::Impl& impl,
                          const CommunicatorOptions& options,
                          const std::vector<std::string>& data_addresses);

// Messages resent so far over this communicator's links (0 without resume).
int64_t MessagesResent(const Communicator::Impl& impl);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_COMMUNICATOR_RECONNECT_H_
