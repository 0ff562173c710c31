// Communicator: deadline-bounded partial allreduce (CollectiveOptions::min_participants > 0). When
// some ranks stay unreachable until the deadline, the reachable ones finish among themselves; the
// result carries the contributors (CollectiveStats::contributors, identical on every participant)
// and kAvg divides by their number. A rank left out returns kUnavailable with its buffer untouched
// and takes part again in its next collective.
//
// Why an agreement at all: the ranks must run the SAME plan over the SAME subset, or they would
// wait on each other until the deadline. Which links are up is local knowledge (a laser terminal
// sees its own links), so the ranks pool it through the decider agreement (decider_agreement.h),
// whose key-value store is out of band: the ground segment reaches every satellite even when its
// crosslinks are down. The decider is rank 0, or in an elastic job whose membership shrank the
// lowest live rank ("every rank" below then means every live rank). The policy it decides with
// (who is reachable, the largest clique, the cutoff) is collectives'
// (planning/participant_policy.h); this file is the protocol.
//
// The protocol, for collective #seq (keys under crosslink/partial/<seq>/, DeciderAgreement::Key):
// 1. Every rank r reads the up/down state of its own links (timelines[p]->At(now).up: direct, or
//    routed through relays; a rank the coordinator declared dead counts as down) and publishes it
//    as a string of '0'/'1' under state/<r>/<v>, v = 0, 1, ... for each new observation, then
//    announces it as event number e (KvAdd on "events") under event/<e> = "<r> <v>".
// 2. The decider folds the events into the newest state of every rank and decides as soon as
//    every rank is reachable (all states present, every link up as seen from both ends):
//    decision "all", and the ordinary full collective runs. Otherwise it waits for the next event
//    (a long poll, no sleeping) until the cutoff, then decides on the largest set of ranks that are
//    pairwise up (a clique: any plan over them only crosses up links), if it has at least
//    min_participants ranks ("partial"), else "fail". The decision is written once; it names the
//    ranks left out and why (links down, not entered by the cutoff, dead).
// 3. The other ranks wait on the decision key, waking when one of their own links changes state
//    (LinkWindow::until_s, so they republish exactly when something changed) to publish again. A
//    rank cut off for a moment is thus seen back as soon as its links are, and the collective runs
//    in full if that happens before the cutoff.
// The cutoff is the deadline minus the time the subset's collective needs: twice the cost-model
// estimate (cost_model.h; it ignores the host's copies and reductions and the decision's key-value
// round trips, a few ms) plus 20% of the time the caller allowed, at most 1 s (the executor's own
// reserve to name the rank at fault is 10%, at most 1 s, so a subset collective that runs into
// trouble still reports in time).
//
// The subset's plan is the standard planner's plan for k = |participants| ranks (or the
// contact-aware planner's over their satellites, at the orbit time the decider put into the
// decision), participant i running plan rank i over its connection to rank participants[i]. The
// plan's world size is k, so kAvg's final division is by the number of contributors. Connections
// to ranks left out carry nothing in this collective, so the mesh stays in step and nothing needs
// repair: the left-out rank's next collective is an ordinary one.
//
// Cost: with min_participants > 0 every allreduce pays this agreement (one KvSet, one KvAdd, one
// KvSet and one long poll per rank: 5-25 ms measured with 4 ranks on a loaded 2-core machine, in
// partial_allreduce_test's steps 5 and 6); with 0 nothing changes.
//
// Algorithm: with CollectiveOptions::algorithm kAuto, the decider also picks ring or tree (cost
// model, its own links) and every rank runs that, for a full collective too: each rank's own choice
// reads its own links, and a rank whose links were just down would choose differently.
// The coordinator expires the keys 30 minutes after their last write (a few hundred bytes per
// collective).
//
// Limits: a rank that dies between KvAdd and announcing its event leaves a gap the decider waits
// on until the cutoff (the decision then ignores later events); if the decider dies, the others
// learn it from the coordinator's membership (heartbeats) while they wait for its decision, and
// fail with kAborted naming it instead of waiting for the deadline.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/cost_model.h"
#include "crosslink/collectives/planning/participant_policy.h"
#include "crosslink/collectives/planning/plan_choice.h"
#include "decider_agreement.h"

namespace crosslink::runtime {

namespace {

using collectives::AllreduceAlgorithm;
using collectives::ParticipantDecision;

// Wall-time slack after a link's predicted change before re-reading it, so that the read lands
// past the boundary the timeline reported.
constexpr absl::Duration kChangeSlack = absl::Microseconds(200);

// This rank's view of its own links now (participant_policy.h ObserveLinks, with the ranks the
// coordinator declared dead as down), and the wall instant the first of them changes state.
std::string ObserveOwnLinks(Communicator& comm, Communicator::Impl& impl, absl::Time* next_change) {
  const int n = comm.world_size();
  const Membership membership = comm.membership();
  std::vector<bool> dead(n, false);
  for (int p = 0; p < n; ++p) dead[p] = membership.FindDead(p) != nullptr;
  const auto clock = comm.clock();
  std::optional<double> t_s;
  if (clock != nullptr) t_s = clock->OrbitNow();
  const collectives::LinkObservation seen =
      collectives::ObserveLinks(comm.rank(), impl.timelines, dead, t_s);
  *next_change = clock != nullptr && std::isfinite(seen.until_s)
                     ? clock->WallAt(seen.until_s) + kChangeSlack
                     : absl::InfiniteFuture();
  return seen.bits;
}

// Publishes this rank's link state as observation `version` and announces it.
absl::Status PublishState(Communicator& comm, const DeciderAgreement& agreement, int version,
                          const std::string& bits, absl::Time deadline) {
  CoordinatorClient& kv = comm.coordinator();
  RETURN_IF_ERROR(
      kv.KvSet(agreement.Key(absl::StrCat("state/", comm.rank(), "/", version)), bits, deadline));
  ASSIGN_OR_RETURN(const int64_t event, kv.KvAdd(agreement.Key("events"), 1, deadline));
  return kv.KvSet(agreement.Key(absl::StrCat("event/", event)),
                  absl::StrCat(comm.rank(), " ", version), deadline);
}

// The cost-model estimate of the allreduce over k ranks from this rank's slowest up link, and
// the algorithm the cost model picks for it.
double EstimateS(Communicator& comm, Communicator::Impl& impl, int k, size_t bytes,
                 AllreduceAlgorithm* algorithm) {
  collectives::LinkCostHints hints = collectives::kLoopbackCostHints;
  if (const auto clock = comm.clock(); clock != nullptr) {
    const double t_s = clock->OrbitNow();
    std::vector<collectives::LinkWindow> windows;
    for (const auto& timeline : impl.timelines) {
      if (timeline != nullptr) windows.push_back(timeline->At(t_s));
    }
    hints = collectives::SlowestUpLink(windows);
  }
  *algorithm = collectives::ChooseAllreduceAlgorithm(k, bytes, hints);
  return *algorithm == AllreduceAlgorithm::kTree ? collectives::TreeAllreduceTimeS(k, bytes, hints)
                                                 : collectives::RingAllreduceTimeS(k, bytes, hints);
}

// The decider: gathers the states until every live rank is reachable or the cutoff, then decides.
absl::StatusOr<ParticipantDecision> Decide(Communicator& comm, Communicator::Impl& impl,
                                           const DeciderAgreement& agreement,
                                           const collectives::CollectiveSpec& spec,
                                           int min_participants, absl::Time start,
                                           absl::Time deadline) {
  const int n = comm.world_size();
  const int decider = agreement.decider();
  // The ranks of the mesh's membership epoch (every rank until one dies); the others are dead.
  const int live = spec.plan_world_size();
  CoordinatorClient& kv = comm.coordinator();
  const size_t bytes = spec.count * collectives::DataTypeSize(spec.type);
  AllreduceAlgorithm auto_algorithm = AllreduceAlgorithm::kRing;
  const absl::Time cutoff = collectives::PartialCutoff(
      EstimateS(comm, impl, live, bytes, &auto_algorithm), start, deadline);

  std::vector<std::optional<std::string>> states(n);
  std::vector<int> versions(n, -1);
  absl::Time own_change;
  states[decider] = ObserveOwnLinks(comm, impl, &own_change);
  int64_t next_event = 1;
  ParticipantDecision decision;
  while (true) {
    const Membership membership = comm.membership();
    std::vector<bool> candidate(n, false);
    std::vector<std::optional<std::string>> dead_reasons(n);
    for (int r = 0; r < n; ++r) {
      if (const DeadRank* dead = membership.FindDead(r)) dead_reasons[r] = dead->reason;
      candidate[r] = states[r].has_value() && !dead_reasons[r].has_value();
    }
    decision.set =
        collectives::LargestUpClique(collectives::MutuallyUp(states, candidate), candidate);
    const int k = static_cast<int>(std::count(decision.set.begin(), decision.set.end(), true));
    if (k == live) {
      decision.kind = ParticipantDecision::Kind::kAll;
      break;
    }
    if (absl::Now() >= cutoff) {
      decision.kind = k >= min_participants ? ParticipantDecision::Kind::kPartial
                                            : ParticipantDecision::Kind::kFail;
      decision.reason = collectives::ExclusionReasons(states, decision.set, dead_reasons);
      break;
    }
    absl::StatusOr<std::string> event =
        kv.KvGet(agreement.Key(absl::StrCat("event/", next_event)), std::min(cutoff, own_change));
    if (event.ok()) {
      ++next_event;
      int r = -1;
      int v = -1;
      const std::vector<std::string> parts = absl::StrSplit(*event, ' ');
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &r) || !absl::SimpleAtoi(parts[1], &v) ||
          r < 0 || r >= n || r == decider) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad partial-allreduce event \"", *event, "\" under ", agreement.Key("")));
      }
      if (v <= versions[r]) continue;
      ASSIGN_OR_RETURN(std::string bits,
                       kv.KvGet(agreement.Key(absl::StrCat("state/", r, "/", v)), deadline));
      if (static_cast<int>(bits.size()) != n || bits.find_first_not_of("01") != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("rank ", r, " published link state \"", bits, "\" for ", n, " ranks"));
      }
      versions[r] = v;
      states[r] = std::move(bits);
    } else if (event.status().code() == absl::StatusCode::kDeadlineExceeded) {
      states[decider] = ObserveOwnLinks(comm, impl, &own_change);
    } else {
      return event.status();
    }
  }
  if (spec.algorithm == AllreduceAlgorithm::kAuto) {
    const int k = static_cast<int>(std::count(decision.set.begin(), decision.set.end(), true));
    EstimateS(comm, impl, std::max(k, 1), bytes, &auto_algorithm);
    decision.algorithm = auto_algorithm;
  }
  if (comm.clock() != nullptr) decision.planning_t_s = comm.clock()->OrbitNow();
  RETURN_IF_ERROR(agreement.Publish(collectives::EncodeDecision(decision), deadline));
  return decision;
}

// Ranks other than the decider: publish, then wait for the decision, publishing again on each
// change.
absl::StatusOr<ParticipantDecision> AwaitDecision(Communicator& comm, Communicator::Impl& impl,
                                                  const DeciderAgreement& agreement,
                                                  absl::Time deadline) {
  absl::Time next_change;
  std::string bits = ObserveOwnLinks(comm, impl, &next_change);
  int version = 0;
  RETURN_IF_ERROR(PublishState(comm, agreement, version, bits, deadline));
  ASSIGN_OR_RETURN(
      const std::string text,
      agreement.Await(
          deadline,
          [&]() -> absl::StatusOr<absl::Time> {
            std::string now_bits = ObserveOwnLinks(comm, impl, &next_change);
            if (now_bits != bits) {
              bits = std::move(now_bits);
              RETURN_IF_ERROR(PublishState(comm, agreement, ++version, bits, deadline));
            }
            return next_change;
          },
          next_change));
  return collectives::DecodeDecision(text, comm.world_size());
}

}  // namespace

PartialAllreduce PreparePartialAllreduce(Communicator& comm, Communicator::Impl& impl,
                                         const collectives::CollectiveSpec& spec,
                                         int min_participants, uint64_t sequence, absl::Time start,
                                         absl::Time deadline) {
  const int n = comm.world_size();
  const int rank = comm.rank();
  PartialAllreduce out;
  out.contributors.assign(n, spec.participants.empty());
  for (int r : spec.participants) out.contributors[r] = true;
  out.participants = spec.plan_world_size();
  if (min_participants < 0 || min_participants > n) {
    out.status = absl::InvalidArgumentError(
        absl::StrCat("min_participants ", min_participants, " outside [0, ", n, "]"));
    out.contributors.assign(n, false);
    out.participants = 0;
    return out;
  }
  const DeciderAgreement agreement(comm, "partial", sequence, DeciderRank(impl));
  absl::StatusOr<ParticipantDecision> decision =
      rank == agreement.decider()
          ? Decide(comm, impl, agreement, spec, min_participants, start, deadline)
          : AwaitDecision(comm, impl, agreement, deadline);
  if (!decision.ok()) {
    // Other ranks may have read a decision that counts this rank in and are now waiting on it.
    out.status = absl::Status(decision.status().code(),
                              absl::StrCat("agreeing on the participants of a partial result: ",
                                           decision.status().message()));
    out.mesh_in_step = false;
    return out;
  }
  // A full collective runs the ordinary path, except when the caller left the algorithm to the
  // cost model: each rank's choice reads its own links, and a rank whose links were just down
  // would pick differently from the others, so every rank takes the decider's choice instead.
  if (decision->kind == ParticipantDecision::Kind::kAll &&
      (spec.contact_aware || spec.algorithm != AllreduceAlgorithm::kAuto)) {
    return out;
  }

  const std::vector<int> members = collectives::Members(decision->set);
  const int k = static_cast<int>(members.size());
  out.contributors = decision->set;
  out.participants = k;
  out.description =
      absl::StrCat("contributors ", collectives::RankList(members), ", ", k, " of ", n);
  if (decision->kind == ParticipantDecision::Kind::kFail) {
    out.status = absl::UnavailableError(absl::StrCat(
        "only ", k, " ranks ", collectives::RankList(members), " were reachable by the cutoff, ",
        "fewer than min_participants ", min_participants, ": ", decision->reason));
    out.contributors.assign(n, false);
    out.participants = 0;
    return out;
  }
  if (!decision->set[rank]) {
    out.status = absl::UnavailableError(absl::StrCat(
        "left out of a partial result (", out.description, ") because ", decision->reason,
        "; the buffer is unchanged and the next collective includes this rank again"));
    return out;
  }

  out.decided = true;
  out.spec = collectives::ParticipantSpec(spec, *decision);
  if (spec.contact_aware) {
    // Every participant orders the subset at the decider's orbit time.
    collectives::ContactAwareInputs inputs;
    inputs.predicted = impl.predicted_plan.get();
    inputs.satellites.assign(comm.rank_satellites().begin(), comm.rank_satellites().begin() + n);
    inputs.t_s = decision->planning_t_s;
    absl::StatusOr<collectives::ContactAwareResolution> resolved =
        collectives::ResolveContactAware(out.spec, inputs);
    if (!resolved.ok()) {
      // Every participant plans the same inputs, so every one fails alike before sending.
      out.status = absl::Status(resolved.status().code(),
                                absl::StrCat("planning the partial result (", out.description,
                                             "): ", resolved.status().message()));
      return out;
    }
    out.spec = std::move(resolved->spec);
  }
  return out;
}

}  // namespace crosslink::runtime
