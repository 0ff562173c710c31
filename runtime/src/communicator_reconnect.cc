#include "communicator_reconnect.h"

#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/emulation/contact_plan_timeline.h"
#include "crosslink/collectives/emulation/link_resumer.h"

namespace crosslink::runtime {
namespace {

using collectives::LinkEmulator;
using collectives::LinkResumer;

bool ResumeDisabledByEnvironment() {
  const char* value = std::getenv("CROSSLINK_RESUME");
  return value != nullptr && std::string(value) == "0";
}

}  // namespace

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
    // By timeline, not by connection: a rejoined process has no connection yet.
    if (p == rank || impl.timelines[p] == nullptr) continue;
    peers[p].address = data_addresses[p];
    peers[p].direct = impl.timelines[p];
    ASSIGN_OR_RETURN(
        collectives::ContactPlanTimeline detour,
        collectives::ContactPlanTimeline::CreateDetour(
            comm.true_plan(), comm.rank_satellites()[rank], comm.rank_satellites()[p]));
    // A pair without a direct link is routed already: its "detour" is itself, nothing to add.
    // Over kernel links (--netns) the kernel takes detours itself.
    if (!options.kernel_links && detour.Describe() != impl.timelines[p]->Describe()) {
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
