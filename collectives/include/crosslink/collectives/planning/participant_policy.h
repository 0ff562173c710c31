// The participant policy of a deadline-bounded partial allreduce (CollectiveOptions::
// min_participants > 0): who takes part when some ranks stay unreachable. Decision only: the
// runtime pools every rank's view of its own links and lets rank 0 decide through its agreement
// channel (runtime/src/communicator_partial.cc); these functions are what it decides with, and
// how a decision becomes the spec every participant runs.
//
// Policy: run in full as soon as every rank is reachable (every link seen up from both ends);
// otherwise, at the cutoff, the largest set of ranks that are pairwise up (a clique: any plan over
// them only crosses up links) if it has at least min_participants ranks, else fail. The cutoff
// leaves the subset's collective time to run before the deadline (PartialCutoff).
//
// Thread-safety: pure functions.
#ifndef CROSSLINK_COLLECTIVES_PLANNING_PARTICIPANT_POLICY_H_
#define CROSSLINK_COLLECTIVES_PLANNING_PARTICIPANT_POLICY_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/collectives/collective_spec.h"
#include "crosslink/collectives/cost_model.h"
#include "crosslink/collectives/emulation/link_timeline.h"

namespace crosslink::collectives {

// Exact largest-clique search up to this many candidate ranks (2^16 subsets, a few ms); above
// it a greedy peel (drop the rank with the fewest up links until the rest is a clique).
inline constexpr int kExactCliqueMaxRanks = 16;

// One rank's view of its own links at orbit time t_s: bits[p] is '1' when the link to rank p is
// up (timelines[p]->At(t_s).up; a null timeline is an ideal link, always up) and p is not dead,
// '0' otherwise; bits[rank] is '1'. until_s: the orbit time the first of them changes state
// (+infinity when none does, or without a clock: t_s nullopt reads every live link as up).
struct LinkObservation {
  std::string bits;
  double until_s = 0;
};
LinkObservation ObserveLinks(int rank,
                             const std::vector<std::shared_ptr<const LinkTimeline>>& timelines,
                             const std::vector<bool>& dead, std::optional<double> t_s);

// up[a][b]: both a and b are candidates and each sees the other's link up in its newest state.
std::vector<std::vector<bool>> MutuallyUp(const std::vector<std::optional<std::string>>& states,
                                          const std::vector<bool>& candidate);

// The largest set of candidate ranks in which every pair is up; ties go to the set whose lowest
// differing rank is lower (deterministic, so logs and tests can read it).
std::vector<bool> LargestUpClique(const std::vector<std::vector<bool>>& up,
                                  const std::vector<bool>& candidate);

// Rank 0's decision for one collective, as it travels through the agreement channel.
struct ParticipantDecision {
  enum class Kind { kAll, kPartial, kFail };
  Kind kind = Kind::kAll;
  std::vector<bool> set;  // contributors (kAll: everyone; kFail: the reachable ones)
  // The decider's choice of ring or tree when the caller left kAuto (every rank must run the
  // same, and each rank's own links differ); kAuto otherwise.
  AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto;
  double planning_t_s = 0;  // the decider's orbit time, for contact-aware subset plans
  std::string reason;       // the ranks left out and why
};
std::string EncodeDecision(const ParticipantDecision& decision);
// kInvalidArgument for text that is not an encoded decision for n ranks (it came over the
// network: every field is checked).
absl::StatusOr<ParticipantDecision> DecodeDecision(const std::string& text, int n);

// Why each rank outside `set` is left out, from the decider's newest knowledge: dead_reasons[p]
// is set for a rank declared dead, states[p] is empty for one that never published.
std::string ExclusionReasons(const std::vector<std::optional<std::string>>& states,
                             const std::vector<bool>& set,
                             const std::vector<std::optional<std::string>>& dead_reasons);

// When rank 0 stops waiting for unreachable ranks: the deadline minus twice `estimate_s` (the
// cost model's time for the collective) and 20% of the time the caller allowed (at most 1 s),
// so a subset collective that runs into trouble still reports before the deadline (the
// executor's own reserve to name the rank at fault is 10%, at most 1 s).
absl::Time PartialCutoff(double estimate_s, absl::Time start, absl::Time deadline);

// The group ranks in `set`, in rank order; "{0,2,3}".
std::vector<int> Members(const std::vector<bool>& set);
std::string RankList(const std::vector<int>& ranks);

// The spec that the participants of `decision` run for `spec` (an allreduce as the caller asked
// it): participants = the members (every rank for kAll), the decider's algorithm when it chose
// one. A contact-aware spec keeps its flag: the caller orders the participants next
// (plan_choice.h ResolveContactAware at decision.planning_t_s).
CollectiveSpec ParticipantSpec(const CollectiveSpec& spec, const ParticipantDecision& decision);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_PLANNING_PARTICIPANT_POLICY_H_
