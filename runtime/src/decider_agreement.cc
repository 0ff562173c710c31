#include "decider_agreement.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace crosslink::runtime {
namespace {

// How often a rank waiting for the decider's decision looks whether the decider is still alive: the
// heartbeat thread updates the membership about as often, and a quarter second is negligible
// against the seconds a dead rank costs anyway.
constexpr absl::Duration kDeciderCheck = absl::Milliseconds(250);

}  // namespace

DeciderAgreement::DeciderAgreement(Communicator& comm, std::string_view topic, uint64_t sequence,
                                   int decider)
    : comm_(comm),
      prefix_(absl::StrCat("crosslink/", std::string(topic), "/", sequence, "/")),
      sequence_(sequence),
      decider_(decider) {}

std::string DeciderAgreement::Key(std::string_view name) const {
  return absl::StrCat(prefix_, std::string(name));
}

absl::Status DeciderAgreement::Publish(std::string_view decision, absl::Time deadline) const {
  return comm_.coordinator().KvSet(Key("decision"), std::string(decision), deadline);
}

absl::StatusOr<std::string> DeciderAgreement::Await(absl::Time deadline, const WakeFn& on_wake,
                                                    absl::Time next_wake) const {
  const std::string key = Key("decision");
  while (true) {
    if (const Membership m = comm_.membership(); const DeadRank* dead = m.FindDead(decider_)) {
      return absl::AbortedError(absl::StrCat("rank ", comm_.rank(), " collective #", sequence_,
                                             ": rank ", decider_,
                                             ", which decides for every rank (", prefix_,
                                             "), died before deciding (", dead->reason, ")"));
    }
    const absl::Time until = std::min(
        {deadline, on_wake ? next_wake : absl::InfiniteFuture(), absl::Now() + kDeciderCheck});
    absl::StatusOr<std::string> text = comm_.coordinator().KvGet(key, until);
    if (text.ok()) return text;
    if (text.status().code() != absl::StatusCode::kDeadlineExceeded || absl::Now() >= deadline) {
      return absl::Status(text.status().code(),
                          absl::StrCat("no decision from rank ", decider_, " under ", key, ": ",
                                       text.status().message()));
    }
    if (on_wake) {
      absl::StatusOr<absl::Time> wake = on_wake();
      if (!wake.ok()) return wake.status();
      next_wake = *wake;
    }
  }
}

}  // namespace crosslink::runtime
