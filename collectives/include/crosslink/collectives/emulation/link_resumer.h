// LinkResumer: brings one rank's emulated links back after a surprise cut (OutageMode::kCut), so
// that the executor and its plans see a delay where they would otherwise see a failed link.
//
// What it is for: a job that plays a contact plan in cut mode wraps each of its LinkEmulators in
// a ResumableConnection (Wrap) whose Reconnect function is LinkResumer::Reconnect. When a cut
// breaks a link mid-collective, the lower rank of the pair dials the higher one again through the
// Context (as when the mesh was built), and the higher one takes the connection that the
// resumer's accept thread received. Each end wraps the new connection in a fresh LinkEmulator
// that plays, in this order of preference (ResumeRoute):
//   - the direct link, when its timeline has it up now;
//   - a detour through relay satellites (Peer::detour, e.g. ContactPlanTimeline::CreateDetour)
//     when that is up now, played only until the direct link returns (ExpiringTimeline): the
//     first message after that cuts the detour and the link resumes over the direct path, so the
//     relay latency lasts no longer than the outage;
//   - otherwise nothing yet: Reconnect sleeps until the timelines say the link (or the detour)
//     returns, or its deadline passes.
// Each reconnection is logged on stderr ("[crosslink] rank 2 -> rank 3: reconnected ...").
//
// Blocking: the constructor starts an accept thread at once (it takes every connection the
// context accepts from a lower rank; it must be the context's only Accept caller from then on);
// the destructor stops it within kAcceptSlice (200 ms). Reconnect blocks until a connection is
// made or its deadline passes.
// Thread-safety: Reconnect may run on any number of threads at once (the ResumableConnections'
// pump threads, one per peer); Wrap, outages_met and messages_resent from any thread.
// Ownership: the resumer borrows `context`, which must outlive it; it must outlive the
// connections Wrap returned (their Reconnect calls back into it), so declare it before them.
// It shares each peer's current LinkEmulator with that link's connection, for the counters.
// Status codes (Reconnect): kUnavailable while the link and its detour stay down past the
// deadline, or the peer has not dialled again by then; the Context's Connect errors otherwise.
#ifndef CROSSLINK_COLLECTIVES_EMULATION_LINK_RESUMER_H_
#define CROSSLINK_COLLECTIVES_EMULATION_LINK_RESUMER_H_

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

namespace crosslink::collectives {

class LinkResumer {
 public:
  // How long one Accept call of the accept loop blocks, i.e. how soon the destructor returns.
  static constexpr absl::Duration kAcceptSlice = absl::Milliseconds(200);

  // One entry per rank of the job (the entries of this rank and of peers without a link are
  // unused).
  struct Peer {
    std::string address;  // the peer's Context address, for the lower rank's dial
    std::shared_ptr<const LinkTimeline> direct;
    std::shared_ptr<const LinkTimeline> detour;  // nullptr: none to take
  };

  // `clock` maps the timelines' orbit times to wall time; `emulator_options` configure every
  // LinkEmulator the resumer builds (mode kCut, so that a later cut is resumed again).
  LinkResumer(Context& context, int rank, std::vector<Peer> peers,
              std::shared_ptr<const ScenarioClock> clock, LinkEmulatorOptions emulator_options,
              ResumableOptions resumable_options = {});
  // Stops the accept thread (within kAcceptSlice).
  ~LinkResumer();

  // Wraps `emulated` (this rank's LinkEmulator to `peer`, as the mesh was built) in a
  // ResumableConnection that comes back through Reconnect. The peer must wrap its end too.
  std::unique_ptr<Connection> Wrap(int peer, std::unique_ptr<LinkEmulator> emulated);

  // A new emulated connection to `peer` by `deadline` (ResumableConnection::Reconnect); see the
  // header comment for the route it takes and its status codes.
  absl::StatusOr<std::unique_ptr<Connection>> Reconnect(int peer, absl::Time deadline);

  // A new link to `peer` for a rebuilt mesh (an elastic job's new membership epoch): Reconnect's
  // connection wrapped in a fresh ResumableConnection, as Wrap does at the start, so that a cut
  // after the rebuild resumes too (both ends must call it). Status codes as Reconnect's.
  absl::StatusOr<std::unique_ptr<Connection>> ConnectResumable(int peer, absl::Time deadline);

  // The peer's Context address from now on: an elastic job's rank that came back as a new process
  // listens elsewhere (the runtime's rank admission). Thread-safe.
  void SetPeerAddress(int peer, std::string address);

  // Outages met by every emulator this rank has used, and messages resent, summed over links.
  int64_t outages_met() const;
  int64_t messages_resent() const;

 private:
  void AcceptLoop();
  // Builds the LinkEmulator that plays `timeline` over `connection` and makes it peer's current.
  std::unique_ptr<Connection> Emulate(int peer, std::unique_ptr<Connection> connection,
                                      std::shared_ptr<const LinkTimeline> timeline);

  Context& context_;
  const int rank_;
  const std::vector<Peer> peers_;
  const std::shared_ptr<const ScenarioClock> clock_;
  const LinkEmulatorOptions emulator_options_;
  const ResumableOptions resumable_options_;

  mutable absl::Mutex mu_;
  // Connections the higher-ranked end accepted, by the dialling peer, for its Reconnect.
  std::map<int, std::deque<std::unique_ptr<Connection>>> accepted_ ABSL_GUARDED_BY(mu_);
  // Each peer's current emulator (shared with the connection that forwards to it), and the
  // outages of the ones retired.
  std::vector<std::shared_ptr<LinkEmulator>> current_ ABSL_GUARDED_BY(mu_);
  int64_t retired_outages_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<ResumableConnection*> resumables_ ABSL_GUARDED_BY(mu_);
  // SetPeerAddress's addresses, which replace peers_[p].address.
  std::map<int, std::string> moved_addresses_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_EMULATION_LINK_RESUMER_H_
