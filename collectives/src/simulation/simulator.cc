// The virtual-time simulator's engine (simulator.h): ranks run their steps until they block on a
// receive; a send that completes a blocked receiver's message wakes it through the priority queue
// ordered by virtual time.
#include "crosslink/collectives/simulator.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_format.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/algorithms.h"
#include "crosslink/collectives/compression/wire_codec.h"
#include "simulator_channel.h"

namespace crosslink::collectives {
namespace {

// When each element range of one rank's buffer was last written (a receive landed or a reduction
// finished) and last read by a send (its serialisation finished: the executor sends from the
// buffer, so overwriting must wait). Ranges split on demand; plans cut buffers into the same
// segments again and again, so the map stays at about the number of segments.
class BufferClock {
 public:
  BufferClock(size_t count, double start_s) : count_(count) {
    spans_.emplace(0, Span{count, start_s, start_s});
  }
  // Latest write over [offset, offset+count), and with `reads` also the latest read.
  double Ready(size_t offset, size_t count, bool reads) {
    double t = -std::numeric_limits<double>::infinity();
    ForEach(offset, count, [&](Span& s) { t = std::max({t, s.write_s, reads ? s.read_s : t}); });
    return t;
  }
  void Wrote(size_t offset, size_t count, double t_s) {
    ForEach(offset, count, [&](Span& s) { s.write_s = t_s; });
  }
  void Read(size_t offset, size_t count, double t_s) {
    ForEach(offset, count, [&](Span& s) { s.read_s = std::max(s.read_s, t_s); });
  }

 private:
  struct Span {
    size_t end;
    double write_s;
    double read_s;
  };
  void Split(size_t at) {
    if (at >= count_) return;
    auto it = std::prev(spans_.upper_bound(at));
    if (it->first == at) return;
    Span tail = it->second;
    it->second.end = at;
    spans_.emplace_hint(std::next(it), at, tail);
  }
  template <typename Fn>
  void ForEach(size_t offset, size_t count, Fn fn) {
    const size_t end = std::min(offset + count, count_);
    if (offset >= end) return;
    Split(offset);
    Split(end);
    for (auto it = spans_.find(offset); it != spans_.end() && it->first < end; ++it) {
      fn(it->second);
    }
  }
  size_t count_;
  std::map<size_t, Span> spans_;  // start -> span, covering [0, count_)
};

struct RankState {
  size_t pc = 0;
  double end_s = 0;           // latest completion of any step so far
  double compute_free_s = 0;  // the rank reduces one range at a time
  double recv_done_s = 0;     // latest completed receive (an empty send waits for all of them)
  bool queued = false;
  std::unique_ptr<BufferClock> buffer;
};

class Engine {
 public:
  Engine(const Plan& plan, const linkmodel::ContactPlan& truth, const std::vector<int>& sats,
         double start_s, const SimulatorOptions& options)
      : plan_(plan),
        truth_(truth),
        sats_(sats),
        options_(options),
        elem_bytes_(DataTypeSize(plan.type)),
        start_s_(start_s),
        deadline_s_(start_s + options.deadline_s),
        ranks_(plan.world_size),
        step_channel_(plan.world_size) {
    for (RankState& r : ranks_) {
      r.end_s = r.compute_free_s = r.recv_done_s = start_s;
      r.buffer = std::make_unique<BufferClock>(plan.count, start_s);
    }
  }

  absl::Status Prepare() {
    bool any_routed = false;
    for (int r = 0; r < plan_.world_size; ++r) {
      const std::vector<Step>& steps = plan_.ranks[r];
      step_channel_[r].assign(steps.size(), -1);
      for (size_t i = 0; i < steps.size(); ++i) {
        const Step& s = steps[i];
        if (!IsSendOp(s.op) && s.op != StepOp::kRecv && s.op != StepOp::kRecvReduce) continue;
        if (s.peer < 0 || s.peer >= plan_.world_size || s.peer == r) {
          return absl::InvalidArgumentError(
              absl::StrFormat("simulator: rank %d step %d names peer %d (world size %d)", r, i,
                              s.peer, plan_.world_size));
        }
        const int from = IsSendOp(s.op) ? r : s.peer;
        const int to = IsSendOp(s.op) ? s.peer : r;
        const uint64_t key = static_cast<uint64_t>(from) << 32 | static_cast<uint32_t>(to);
        auto [it, inserted] = channel_index_.try_emplace(key, static_cast<int>(channels_.size()));
        if (inserted) {
          channels_.push_back(std::make_unique<internal::SimChannel>(&truth_, &changes_, from, to,
                                                                     sats_[from], sats_[to]));
          any_routed |= !channels_.back()->stats().direct;
        }
        step_channel_[r][i] = it->second;
      }
    }
    if (any_routed) changes_ = internal::StateChangeTimes(truth_);
    return absl::OkStatus();
  }

  absl::StatusOr<SimulationResult> Run(double start_s) {
    for (int r = 0; r < plan_.world_size; ++r) Enqueue(r);
    while (!queue_.empty()) {
      const int r = queue_.top().second;
      queue_.pop();
      ranks_[r].queued = false;
      RETURN_IF_ERROR(Advance(r));
    }
    SimulationResult result;
    result.start_s = start_s;
    result.end_s = start_s;
    for (int r = 0; r < plan_.world_size; ++r) {
      const RankState& rs = ranks_[r];
      if (rs.pc < plan_.ranks[r].size()) {
        const Step& s = plan_.ranks[r][rs.pc];
        return absl::InternalError(absl::StrFormat(
            "simulator: plan %s cannot finish: rank %d waits at step %d (%s chunk %d) for a "
            "message from rank %d that is never sent",
            plan_.algorithm, r, rs.pc, StepOpName(s.op), s.chunk, s.peer));
      }
      result.rank_end_s.push_back(rs.end_s);
      result.end_s = std::max(result.end_s, rs.end_s);
    }
    result.completion_s = result.end_s - start_s;
    for (const auto& ch : channels_) {
      result.channels.push_back(ch->stats());
      result.outages_met += ch->stats().outages;
      result.bytes_sent += ch->stats().bytes;
      result.messages += ch->stats().messages;
    }
    return result;
  }

 private:
  void Enqueue(int r) {
    if (ranks_[r].queued) return;
    ranks_[r].queued = true;
    queue_.push({ranks_[r].end_s, r});
  }

  // Runs rank r's steps in plan order until one needs a message that has not been sent yet.
  // Times follow data dependencies, not the order of the list, as in the executor: a send leaves
  // once the range it carries is final (an empty send once every earlier receive is done), a
  // receive lands once it arrived and the range is free (written and read by earlier steps), a
  // reduction also waits for the rank's previous reduction.
  absl::Status Advance(int r) {
    RankState& rs = ranks_[r];
    BufferClock& buf = *rs.buffer;
    const std::vector<Step>& steps = plan_.ranks[r];
    for (; rs.pc < steps.size(); ++rs.pc) {
      const Step& s = steps[rs.pc];
      const double compute_s =
          static_cast<double>(s.count * elem_bytes_) / options_.reduce_rate_Bps;
      switch (s.op) {
        case StepOp::kSend:
        case StepOp::kSendInput: {
          internal::SimChannel& ch = *channels_[step_channel_[r][rs.pc]];
          // A send from the input (alltoall) is ready at the start and reads no data element.
          const bool from_input = s.op == StepOp::kSendInput;
          const double ready_s = from_input ? start_s_
                                 : s.count > 0
                                     ? std::max(start_s_, buf.Ready(s.offset, s.count, false))
                                     : rs.recv_done_s;
          ASSIGN_OR_RETURN(internal::Delivery d,
                           ch.Send(ready_s, MessageBytes(s.count), deadline_s_));
          if (!from_input) buf.Read(s.offset, s.count, d.done_s);
          rs.end_s = std::max(rs.end_s, d.done_s);
          ch.arrivals.push_back({d.arrival_s, s.count});
          if (ch.waiter >= 0) {
            const int w = ch.waiter;
            ch.waiter = -1;
            Enqueue(w);
          }
          break;
        }
        case StepOp::kRecv:
        case StepOp::kRecvReduce: {
          internal::SimChannel& ch = *channels_[step_channel_[r][rs.pc]];
          if (ch.next_recv >= ch.arrivals.size()) {
            ch.waiter = r;
            return absl::OkStatus();
          }
          const internal::SimChannel::Message m = ch.arrivals[ch.next_recv++];
          if (m.count != s.count) {
            return absl::InvalidArgumentError(absl::StrFormat(
                "simulator: rank %d step %d expects %d elements from rank %d, which sent %d", r,
                rs.pc, s.count, s.peer, m.count));
          }
          double done_s = std::max(m.arrival_s, buf.Ready(s.offset, s.count, true));
          if (s.op == StepOp::kRecvReduce) {
            done_s = std::max(done_s, rs.compute_free_s) + compute_s;
            rs.compute_free_s = done_s;
          }
          buf.Wrote(s.offset, s.count, done_s);
          rs.recv_done_s = std::max(rs.recv_done_s, done_s);
          rs.end_s = std::max(rs.end_s, done_s);
          break;
        }
        case StepOp::kCopy:
        case StepOp::kFinalize: {
          const double done_s =
              std::max(buf.Ready(s.offset, s.count, true), rs.compute_free_s) + compute_s;
          rs.compute_free_s = done_s;
          buf.Wrote(s.offset, s.count, done_s);
          rs.end_s = std::max(rs.end_s, done_s);
          break;
        }
      }
    }
    return absl::OkStatus();
  }

  const Plan& plan_;
  const linkmodel::ContactPlan& truth_;
  const std::vector<int>& sats_;
  SimulatorOptions options_;
  size_t elem_bytes_;
  // Bytes on the wire of a message of `count` elements: the plan's compressed layout for float32
  // (wire_codec.h), else the elements themselves.
  size_t MessageBytes(size_t count) const {
    return plan_.compression != WireCompression::kNone ? WireBytes(plan_.compression, count)
                                                       : count * elem_bytes_;
  }
  double start_s_;
  double deadline_s_;
  std::vector<RankState> ranks_;
  std::vector<std::vector<int>> step_channel_;  // rank -> step -> channel (or -1)
  std::vector<std::unique_ptr<internal::SimChannel>> channels_;
  absl::flat_hash_map<uint64_t, int> channel_index_;
  std::vector<double> changes_;
  using Item = std::pair<double, int>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue_;
};

}  // namespace

absl::StatusOr<SimulationResult> SimulatePlan(const Plan& plan, const linkmodel::ContactPlan& truth,
                                              const std::vector<int>& rank_satellites,
                                              double start_s, const SimulatorOptions& options) {
  if (static_cast<int>(plan.ranks.size()) != plan.world_size ||
      static_cast<int>(rank_satellites.size()) != plan.world_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "simulator: plan %s has world size %d and %d step lists, %d rank satellites given",
        plan.algorithm, plan.world_size, plan.ranks.size(), rank_satellites.size()));
  }
  for (int r = 0; r < plan.world_size; ++r) {
    if (rank_satellites[r] < 0 || rank_satellites[r] >= truth.num_satellites()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("simulator: rank %d on satellite %d, the contact plan has %d", r,
                          rank_satellites[r], truth.num_satellites()));
    }
    if (plan.world_size > 1 && plan.ranks[r].empty()) {
      return absl::InvalidArgumentError(
          absl::StrFormat("simulator: plan %s has no steps for rank %d (made for one rank only?)",
                          plan.algorithm, r));
    }
  }
  if (!(options.reduce_rate_Bps > 0) || !(options.deadline_s >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("simulator: reduce_rate_Bps %g must be > 0 and deadline_s %g >= 0",
                        options.reduce_rate_Bps, options.deadline_s));
  }
  Engine engine(plan, truth, rank_satellites, start_s, options);
  RETURN_IF_ERROR(engine.Prepare());
  return engine.Run(start_s);
}

absl::StatusOr<Plan> PlanNaiveRing(int world_size, size_t count,
                                   const ContactAwareOptions& options) {
  CollectiveSpec spec;
  spec.algorithm = AllreduceAlgorithm::kRing;
  spec.world_size = world_size;
  spec.count = count;
  spec.type = options.type;
  spec.op = options.op;
  spec.max_segment_bytes = options.max_segment_bytes;
  return PlanCollective(spec);
}

absl::StatusOr<OracleResult> SimulateOracle(const linkmodel::ContactPlan& truth,
                                            const std::vector<int>& rank_satellites, double start_s,
                                            size_t count,
                                            const ContactAwareOptions& planner_options,
                                            const SimulatorOptions& options) {
  OracleResult result;
  std::vector<std::pair<std::string, Plan>> plans;
  for (AllreduceAlgorithm algo : {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kTree}) {
    ContactAwareOptions o = planner_options;
    o.algorithm = algo;
    ASSIGN_OR_RETURN(ContactAwareChoice choice,
                     PlanContactAwareAllreduce(truth, rank_satellites, start_s, count, o));
    plans.push_back({choice.plan.algorithm, std::move(choice.plan)});
  }
  ASSIGN_OR_RETURN(Plan naive,
                   PlanNaiveRing(static_cast<int>(rank_satellites.size()), count, planner_options));
  plans.push_back({"naive_ring", std::move(naive)});
  bool any = false;
  for (auto& [name, plan] : plans) {
    OracleCandidate c;
    c.name = name;
    absl::StatusOr<SimulationResult> sim =
        SimulatePlan(plan, truth, rank_satellites, start_s, options);
    if (sim.ok()) {
      c.completion_s = sim->completion_s;
      if (!any || c.completion_s < result.completion_s) {
        result.completion_s = c.completion_s;
        result.best = name;
      }
      any = true;
    } else if (sim.status().code() == absl::StatusCode::kDeadlineExceeded) {
      c.status = sim.status();
    } else {
      return sim.status();
    }
    result.candidates.push_back(std::move(c));
  }
  if (!any) {
    return absl::DeadlineExceededError(
        absl::StrFormat("oracle: no candidate finished within %.1f s of t=%.3f s; first: %s",
                        options.deadline_s, start_s, result.candidates.front().status.message()));
  }
  return result;
}

}  // namespace crosslink::collectives
