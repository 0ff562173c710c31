// DeciderAgreement: "the decider decides for collective N", the one agreement channel of the
// communicator's collectives. Some collectives need every rank to run on inputs that only one
// rank can fix: the orbit time a contact-aware plan is made at (communicator_planning.cc), the
// participants of a partial allreduce (communicator_partial.cc). The decider (rank 0, or in an
// elastic job the lowest live rank of the membership epoch the mesh runs in: DeciderRank in
// communicator_impl.h) decides and publishes the decision in the coordinator's key-value store;
// the others wait for it. The coordinator is
// out of band (it is not one of the emulated crosslinks: the ground segment reaches every
// satellite), so a down crosslink never delays an agreement. Keys live under
// crosslink/<topic>/<sequence>/, which the coordinator expires (coordinator_state.h's transient
// prefixes), so a long job does not grow the store.
//
// Blocking: Publish and Await block on the coordinator, never past their deadline. Await also
// fails promptly (kAborted naming the decider) when the coordinator declares it dead, instead of
// waiting for the deadline. Thread-safety: one agreement per collective, used from the thread
// that runs the collective. Status codes: the key-value store's (kDeadlineExceeded,
// kUnavailable), kAborted as above, and the on_wake callback's.
#ifndef CROSSLINK_RUNTIME_SRC_DECIDER_AGREEMENT_H_
#define CROSSLINK_RUNTIME_SRC_DECIDER_AGREEMENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/runtime/communicator.h"

namespace crosslink::runtime {

class DeciderAgreement {
 public:
  // `topic` names the agreement ("contact_aware", "partial"); `decider` is the rank that decides;
  // the communicator is borrowed.
  DeciderAgreement(Communicator& comm, std::string_view topic, uint64_t sequence, int decider);

  int decider() const { return decider_; }

  // The key `name` under this agreement's prefix, for side data (a partial allreduce's link
  // states); "decision" is the decision's own.
  std::string Key(std::string_view name) const;

  // The decider: publishes `decision`.
  absl::Status Publish(std::string_view decision, absl::Time deadline) const;

  // Ranks other than the decider: its decision. While waiting, wakes at `next_wake` (then at each
  // time on_wake returns) and at least every quarter second, and calls on_wake (when given) on
  // each wake, so a rank can republish what changed on its side; an error from on_wake ends the
  // wait with it.
  using WakeFn = std::function<absl::StatusOr<absl::Time>()>;
  absl::StatusOr<std::string> Await(absl::Time deadline, const WakeFn& on_wake = nullptr,
                                    absl::Time next_wake = absl::InfiniteFuture()) const;

 private:
  Communicator& comm_;
  const std::string prefix_;
  const uint64_t sequence_;
  const int decider_;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_DECIDER_AGREEMENT_H_
