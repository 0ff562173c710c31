// Communicator: deadline-bounded partial allreduce (CollectiveOptions::min_participants > 0). When
// some ranks stay unreachable until the deadline, the reachable ones finish among themselves; the
// result carries the contributors (CollectiveStats::contributors, identical on every participant)
// and kAvg divides by their number. A rank left out returns kUnavailable with its buffer untouched
// and takes part again in its next collective.
//
// Why an agreement at all: the ranks must run the SAME plan over the SAME subset, or they would
// wait on each other until the deadline. Which links are up is local knowledge (a laser terminal
// sees its own links), so the ranks pool it through the coordinator's key-value store, which is
// out of band: the ground segment reaches every satellite even when its crosslinks are down.
//
// The protocol, for collective #seq (keys under crosslink/partial/<seq>/):
// 1. Every rank r reads the up/down state of its own links (timelines[p]->At(now).up: direct, or
//    routed through relays; a rank the coordinator declared dead counts as down) and publishes it
//    as a string of '0'/'1' under state/<r>/<v>, v = 0, 1, ... for each new observation, then
//    announces it as event number e (KvAdd on "events") under event/<e> = "<r> <v>".
// 2. Rank 0, the decider, folds the events into the newest state of every rank and decides as
//    soon as every rank is reachable (all states present, every link up as seen from both ends):
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
// Algorithm: with CollectiveOptions::algorithm kAuto, rank 0 also picks ring or tree (cost model,
// its own links) and every rank runs that, for a full collective too: each rank's own choice
// reads its own links, and a rank whose links were just down would choose differently.
// Keys are never deleted (a few hundred bytes per collective).
//
// Limits: a rank that dies between KvAdd and announcing its event leaves a gap the decider waits
// on until the cutoff (the decision then ignores later events); if rank 0 dies, the others learn
// it from the coordinator's membership (heartbeats) while they wait for its decision, and fail
// with kAborted naming it instead of waiting for the deadline.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "communicator_impl.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/contact_aware_planner.h"
#include "crosslink/collectives/cost_model.h"

namespace crosslink::runtime {

namespace {

using collectives::AllreduceAlgorithm;

// Exact largest-clique search up to this many candidate ranks (2^16 subsets, a few ms); above
// it a greedy peel (drop the rank with the fewest up links until the rest is a clique).
constexpr int kExactCliqueMaxRanks = 16;
// Wall-time slack after a link's predicted change before re-reading it, so that the read lands
// past the boundary the timeline reported.
constexpr absl::Duration kChangeSlack = absl::Microseconds(200);

std::string Prefix(uint64_t sequence) { return absl::StrCat("crosslink/partial/", sequence, "/"); }

std::string RankList(const std::vector<int>& ranks) {
  return absl::StrCat("{", absl::StrJoin(ranks, ","), "}");
}

std::vector<int> Members(const std::vector<bool>& set) {
  std::vector<int> ranks;
  for (size_t r = 0; r < set.size(); ++r) {
    if (set[r]) ranks.push_back(static_cast<int>(r));
  }
  return ranks;
}

// This rank's view of its own links now: '1' where the link to rank p is up (and p not dead).
// `next_change` receives the wall instant the first of them changes state.
std::string ObserveLinks(Communicator& comm, Communicator::Impl& impl, absl::Time* next_change) {
  const int n = comm.world_size();
  std::string bits(n, '1');
  *next_change = absl::InfiniteFuture();
  const Membership membership = comm.membership();
  const auto clock = comm.clock();
  const double t_s = clock != nullptr ? clock->OrbitNow() : 0;
  double until_s = std::numeric_limits<double>::infinity();
  for (int p = 0; p < n; ++p) {
    if (p == comm.rank()) continue;
    if (membership.FindDead(p) != nullptr) {
      bits[p] = '0';
      continue;
    }
    if (clock == nullptr || impl.timelines[p] == nullptr) continue;
    const collectives::LinkWindow window = impl.timelines[p]->At(t_s);
    if (!window.up) bits[p] = '0';
    until_s = std::min(until_s, window.until_s);
  }
  if (clock != nullptr && std::isfinite(until_s)) {
    *next_change = clock->WallAt(until_s) + kChangeSlack;
  }
  return bits;
}

// The largest set of candidate ranks in which every pair is up; ties go to the set whose lowest
// differing rank is lower (deterministic: only rank 0 decides, but tests and logs read it).
std::vector<bool> LargestUpClique(const std::vector<std::vector<bool>>& up,
                                  const std::vector<bool>& candidate) {
  const int n = static_cast<int>(candidate.size());
  std::vector<int> ids = Members(candidate);
  const int m = static_cast<int>(ids.size());
  auto is_clique = [&](const std::vector<int>& set) {
    for (size_t i = 0; i < set.size(); ++i) {
      for (size_t j = i + 1; j < set.size(); ++j) {
        if (!up[set[i]][set[j]]) return false;
      }
    }
    return true;
  };
  std::vector<bool> best(n, false);
  if (is_clique(ids)) {
    for (int r : ids) best[r] = true;
    return best;
  }
  if (m <= kExactCliqueMaxRanks) {
    int best_size = 0;
    uint32_t best_mask = 0;
    for (uint32_t mask = 1; mask < (1u << m); ++mask) {
      const int size = std::popcount(mask);
      if (size <= best_size) continue;
      std::vector<int> set;
      for (int i = 0; i < m; ++i) {
        if (mask & (1u << i)) set.push_back(ids[i]);
      }
      if (is_clique(set)) {
        best_size = size;
        best_mask = mask;
      }
    }
    for (int i = 0; i < m; ++i) {
      if (best_mask & (1u << i)) best[ids[i]] = true;
    }
    return best;
  }
  std::vector<int> set = ids;
  while (!is_clique(set)) {
    size_t worst = 0;
    int worst_degree = std::numeric_limits<int>::max();
    for (size_t i = 0; i < set.size(); ++i) {
      int degree = 0;
      for (int other : set) degree += (other != set[i] && up[set[i]][other]) ? 1 : 0;
      if (degree <= worst_degree) {  // ties: drop the highest rank
        worst_degree = degree;
        worst = i;
      }
    }
    set.erase(set.begin() + static_cast<std::ptrdiff_t>(worst));
  }
  for (int r : set) best[r] = true;
  return best;
}

struct Decision {
  enum class Kind { kAll, kPartial, kFail };
  Kind kind = Kind::kAll;
  std::vector<bool> set;    // contributors (kAll: everyone; kFail: the reachable ones)
  std::string algorithm;    // "ring" or "tree" for kAuto subsets; "-" otherwise
  double planning_t_s = 0;  // the decider's orbit time, for contact-aware subset plans
  std::string reason;       // the ranks left out and why
};

std::string EncodeDecision(const Decision& d) {
  const char* kind = d.kind == Decision::Kind::kAll       ? "all"
                     : d.kind == Decision::Kind::kPartial ? "partial"
                                                          : "fail";
  std::string bits;
  for (bool b : d.set) bits += b ? '1' : '0';
  // %.17g round-trips the planning time exactly, so contact-aware subset plans agree.
  return absl::StrFormat("%s %s %s %.17g %s", kind, bits, d.algorithm, d.planning_t_s, d.reason);
}

absl::StatusOr<Decision> DecodeDecision(const std::string& text, int n) {
  const std::vector<std::string> parts = absl::StrSplit(text, absl::MaxSplits(' ', 4));
  Decision d;
  if (parts.size() < 4 || static_cast<int>(parts[1].size()) != n ||
      !absl::SimpleAtod(parts[3], &d.planning_t_s)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad partial-allreduce decision \"", text, "\""));
  }
  if (parts[0] == "all") {
    d.kind = Decision::Kind::kAll;
  } else if (parts[0] == "partial") {
    d.kind = Decision::Kind::kPartial;
  } else if (parts[0] == "fail") {
    d.kind = Decision::Kind::kFail;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("bad partial-allreduce decision \"", text, "\""));
  }
  for (char c : parts[1]) d.set.push_back(c == '1');
  d.algorithm = parts[2];
  if (parts.size() > 4) d.reason = parts[4];
  return d;
}

// Why each rank outside `set` is left out, from the decider's newest knowledge.
std::string Reasons(const std::vector<std::optional<std::string>>& states,
                    const std::vector<bool>& set, const Membership& membership) {
  const int n = static_cast<int>(set.size());
  std::vector<std::string> reasons;
  for (int p = 0; p < n; ++p) {
    if (set[p]) continue;
    if (const DeadRank* dead = membership.FindDead(p); dead != nullptr) {
      reasons.push_back(absl::StrCat("rank ", p, " was declared dead (", dead->reason, ")"));
    } else if (!states[p].has_value()) {
      reasons.push_back(absl::StrCat("rank ", p, " had not entered the collective by the cutoff"));
    } else {
      std::vector<int> down;
      for (int q = 0; q < n; ++q) {
        if (q == p || !set[q]) continue;
        const bool p_sees = (*states[p])[q] == '1';
        const bool q_sees = states[q].has_value() && (*states[q])[p] == '1';
        if (!p_sees || !q_sees) down.push_back(q);
      }
      reasons.push_back(absl::StrCat("rank ", p, "'s links to ranks ", RankList(down),
                                     " were down until the cutoff"));
    }
  }
  return absl::StrJoin(reasons, "; ");
}

// Publishes this rank's link state as observation `version` and announces it.
absl::Status Publish(Communicator& comm, uint64_t sequence, int version, const std::string& bits,
                     absl::Time deadline) {
  const std::string prefix = Prefix(sequence);
  CoordinatorClient& kv = comm.coordinator();
  RETURN_IF_ERROR(
      kv.KvSet(absl::StrCat(prefix, "state/", comm.rank(), "/", version), bits, deadline));
  ASSIGN_OR_RETURN(const int64_t event, kv.KvAdd(absl::StrCat(prefix, "events"), 1, deadline));
  return kv.KvSet(absl::StrCat(prefix, "event/", event), absl::StrCat(comm.rank(), " ", version),
                  deadline);
}

// The cost-model estimate of the allreduce over k ranks from this rank's slowest up link.
double EstimateS(Communicator& comm, Communicator::Impl& impl, int k, size_t bytes,
                 AllreduceAlgorithm* algorithm) {
  collectives::LinkCostHints hints{30e-6, 40e9};  // loopback TCP without a scenario
  const auto clock = comm.clock();
  if (clock != nullptr) {
    const double t_s = clock->OrbitNow();
    double latency_s = 0;
    double rate_bps = std::numeric_limits<double>::infinity();
    for (const auto& timeline : impl.timelines) {
      if (timeline == nullptr) continue;
      const collectives::LinkWindow window = timeline->At(t_s);
      if (!window.up) continue;
      latency_s = std::max(latency_s, window.latency_s);
      if (window.rate_bps > 0) rate_bps = std::min(rate_bps, window.rate_bps);
    }
    hints.latency_s = latency_s;
    if (std::isfinite(rate_bps)) hints.rate_bps = rate_bps;
  }
  *algorithm = collectives::ChooseAllreduceAlgorithm(k, bytes, hints);
  return *algorithm == AllreduceAlgorithm::kTree ? collectives::TreeAllreduceTimeS(k, bytes, hints)
                                                 : collectives::RingAllreduceTimeS(k, bytes, hints);
}

// Rank 0: gathers the states until every rank is reachable or the cutoff, then decides.
absl::StatusOr<Decision> Decide(Communicator& comm, Communicator::Impl& impl,
                                const PartialAllreduceCall& call, uint64_t sequence,
                                absl::Time start, absl::Time deadline) {
  const int n = comm.world_size();
  const std::string prefix = Prefix(sequence);
  CoordinatorClient& kv = comm.coordinator();
  const size_t bytes = call.count * collectives::DataTypeSize(call.type);
  AllreduceAlgorithm auto_algorithm = AllreduceAlgorithm::kRing;
  const double estimate_s = EstimateS(comm, impl, n, bytes, &auto_algorithm);
  const absl::Duration reserve =
      absl::Seconds(2 * estimate_s) + std::min((deadline - start) / 5, absl::Seconds(1));
  const absl::Time cutoff = deadline - reserve;

  std::vector<std::optional<std::string>> states(n);
  std::vector<int> versions(n, -1);
  absl::Time own_change;
  states[0] = ObserveLinks(comm, impl, &own_change);
  int64_t next_event = 1;
  Decision decision;
  while (true) {
    const Membership membership = comm.membership();
    std::vector<bool> candidate(n, false);
    for (int r = 0; r < n; ++r) candidate[r] = states[r].has_value() && !membership.FindDead(r);
    std::vector<std::vector<bool>> up(n, std::vector<bool>(n, false));
    for (int a = 0; a < n; ++a) {
      for (int b = 0; b < n; ++b) {
        up[a][b] = candidate[a] && candidate[b] && (*states[a])[b] == '1' && (*states[b])[a] == '1';
      }
    }
    decision.set = LargestUpClique(up, candidate);
    const int k = static_cast<int>(std::count(decision.set.begin(), decision.set.end(), true));
    if (k == n) {
      decision.kind = Decision::Kind::kAll;
      break;
    }
    const absl::Time now = absl::Now();
    if (now >= cutoff) {
      decision.kind = k >= call.min_participants ? Decision::Kind::kPartial : Decision::Kind::kFail;
      decision.reason = Reasons(states, decision.set, membership);
      break;
    }
    absl::StatusOr<std::string> event =
        kv.KvGet(absl::StrCat(prefix, "event/", next_event), std::min(cutoff, own_change));
    if (event.ok()) {
      ++next_event;
      int r = -1;
      int v = -1;
      const std::vector<std::string> parts = absl::StrSplit(*event, ' ');
      if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &r) || !absl::SimpleAtoi(parts[1], &v) ||
          r <= 0 || r >= n) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad partial-allreduce event \"", *event, "\" in ", prefix));
      }
      if (v <= versions[r]) continue;
      ASSIGN_OR_RETURN(std::string bits,
                       kv.KvGet(absl::StrCat(prefix, "state/", r, "/", v), deadline));
      if (static_cast<int>(bits.size()) != n) {
        return absl::InvalidArgumentError(
            absl::StrCat("rank ", r, " published link state \"", bits, "\" for ", n, " ranks"));
      }
      versions[r] = v;
      states[r] = std::move(bits);
    } else if (event.status().code() == absl::StatusCode::kDeadlineExceeded) {
      states[0] = ObserveLinks(comm, impl, &own_change);
    } else {
      return event.status();
    }
  }
  decision.algorithm = "-";
  if (call.algorithm == AllreduceAlgorithm::kAuto) {
    const int k = static_cast<int>(std::count(decision.set.begin(), decision.set.end(), true));
    EstimateS(comm, impl, std::max(k, 1), bytes, &auto_algorithm);
    decision.algorithm = auto_algorithm == AllreduceAlgorithm::kTree ? "tree" : "ring";
  }
  if (comm.clock() != nullptr) decision.planning_t_s = comm.clock()->OrbitNow();
  RETURN_IF_ERROR(kv.KvSet(absl::StrCat(prefix, "decision"), EncodeDecision(decision), deadline));
  return decision;
}

// How often a rank waiting for rank 0's decision looks whether rank 0 is still alive.
constexpr absl::Duration kDeciderCheck = absl::Milliseconds(250);

// Ranks other than 0: publish, then wait for the decision, publishing again on each change.
absl::StatusOr<Decision> AwaitDecision(Communicator& comm, Communicator::Impl& impl,
                                       uint64_t sequence, absl::Time deadline) {
  const std::string key = absl::StrCat(Prefix(sequence), "decision");
  absl::Time next_change;
  std::string bits = ObserveLinks(comm, impl, &next_change);
  int version = 0;
  RETURN_IF_ERROR(Publish(comm, sequence, version, bits, deadline));
  while (true) {
    if (const Membership m = comm.membership(); const DeadRank* dead = m.FindDead(0)) {
      return absl::AbortedError(absl::StrCat(
          "rank ", comm.rank(), " allreduce #", sequence, ": rank 0, which decides the ",
          "participants of a partial allreduce, died before deciding (", dead->reason, ")"));
    }
    absl::StatusOr<std::string> text = comm.coordinator().KvGet(
        key, std::min({deadline, next_change, absl::Now() + kDeciderCheck}));
    if (text.ok()) return DecodeDecision(*text, comm.world_size());
    if (text.status().code() != absl::StatusCode::kDeadlineExceeded || absl::Now() >= deadline) {
      return absl::Status(
          text.status().code(),
          absl::StrCat("no decision from rank 0 on the participants: ", text.status().message()));
    }
    std::string now_bits = ObserveLinks(comm, impl, &next_change);
    if (now_bits != bits) {
      bits = std::move(now_bits);
      RETURN_IF_ERROR(Publish(comm, sequence, ++version, bits, deadline));
    }
  }
}

}  // namespace

PartialAllreduce PreparePartialAllreduce(Communicator& comm, Communicator::Impl& impl,
                                         const PartialAllreduceCall& call, uint64_t sequence,
                                         absl::Time start, absl::Time deadline) {
  const int n = comm.world_size();
  const int rank = comm.rank();
  PartialAllreduce out;
  out.contributors.assign(n, true);
  out.participants = n;
  if (call.min_participants < 0 || call.min_participants > n) {
    out.status = absl::InvalidArgumentError(
        absl::StrCat("min_participants ", call.min_participants, " outside [0, ", n, "]"));
    out.contributors.assign(n, false);
    out.participants = 0;
    return out;
  }
  absl::StatusOr<Decision> decision = rank == 0
                                          ? Decide(comm, impl, call, sequence, start, deadline)
                                          : AwaitDecision(comm, impl, sequence, deadline);
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
  if (decision->kind == Decision::Kind::kAll &&
      (call.contact_aware || call.algorithm != AllreduceAlgorithm::kAuto)) {
    return out;
  }

  const std::vector<int> members = Members(decision->set);
  const int k = static_cast<int>(members.size());
  out.contributors = decision->set;
  out.participants = k;
  out.description = absl::StrCat("contributors ", RankList(members), ", ", k, " of ", n);
  if (decision->kind == Decision::Kind::kFail) {
    out.status = absl::UnavailableError(absl::StrCat(
        "only ", k, " ranks ", RankList(members), " were reachable by the cutoff, fewer than ",
        "min_participants ", call.min_participants, ": ", decision->reason));
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

  // This rank is participant `index` of a k-rank allreduce (k = n for a full collective that
  // runs the decider's choice of algorithm).
  out.subset = true;
  out.index = static_cast<int>(std::find(members.begin(), members.end(), rank) - members.begin());
  for (int r : members) out.connections.push_back(r == rank ? nullptr : impl.raw_connections[r]);
  AllreduceAlgorithm algorithm = call.algorithm;
  if (decision->algorithm == "tree") algorithm = AllreduceAlgorithm::kTree;
  if (decision->algorithm == "ring") algorithm = AllreduceAlgorithm::kRing;
  absl::StatusOr<collectives::Plan> plan;
  if (call.contact_aware && impl.predicted_plan != nullptr) {
    collectives::ContactAwareOptions options;
    options.algorithm = call.algorithm;
    options.type = call.type;
    options.op = call.op;
    options.max_segment_bytes = call.max_segment_bytes;
    std::vector<int> sats;
    for (int r : members) sats.push_back(comm.rank_satellites()[r]);
    absl::StatusOr<collectives::ContactAwareChoice> choice = collectives::PlanContactAwareAllreduce(
        *impl.predicted_plan, sats, decision->planning_t_s, call.count, options);
    if (choice.ok()) {
      plan = std::move(choice->plan);
    } else {
      plan = choice.status();
    }
  } else {
    collectives::PlanRequest request;
    request.world_size = k;
    request.count = call.count;
    request.type = call.type;
    request.op = call.op;
    request.max_segment_bytes = call.max_segment_bytes;
    request.only_rank = out.index;
    plan = algorithm == AllreduceAlgorithm::kTree ? collectives::PlanTreeAllreduce(request)
                                                  : collectives::PlanRingAllreduce(request);
  }
  if (!plan.ok()) {
    // Every participant plans the same request, so every one fails alike before sending.
    out.status = absl::Status(plan.status().code(),
                              absl::StrCat("planning the partial result (", out.description,
                                           "): ", plan.status().message()));
    return out;
  }
  out.plan = *std::move(plan);
  out.description =
      absl::StrCat(out.description, "; participant i runs on rank ", RankList(members), "[i]");
  return out;
}

}  // namespace crosslink::runtime
