// Resuming a communicator's links after a surprise cut (OutageMode::kCut): the runtime's glue to
// collectives::LinkResumer (crosslink/collectives/emulation/link_resumer.h), which does the work.
// When a job resumes, every emulated connection is wrapped in a ResumableConnection whose
// Reconnect dials (or accepts) the peer again and plays the direct link, a detour through relay
// satellites (ContactPlanTimeline::CreateDetour of the true plan), or waits for either. The
// executor and the plans never notice more than a delay.
// Enabled when the job has a scenario, outage_mode is kCut and options.resume is set (the
// environment variable CROSSLINK_RESUME=0 turns it off).
//
// Thread-safety: call EnableResume once, from Create; MessagesResent from any thread.
// Ownership: Communicator::Impl owns the resumer; it must outlive the connections (declared
// before them in Impl) and the context must outlive it.
#ifndef CROSSLINK_RUNTIME_SRC_COMMUNICATOR_RECONNECT_H_
#define CROSSLINK_RUNTIME_SRC_COMMUNICATOR_RECONNECT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {

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
