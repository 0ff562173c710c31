// Deadline-bounded partial allreduce (CollectiveOptions::min_participants), end to end: four
// communicators in one process (a thread each, a real coordinator on an ephemeral port, the real
// TCP mesh wrapped in LinkEmulators) play tests/runtime/data/isolated-rank.toml, where radiation
// resets cut one satellite off from the other three. The test reads the scenario's truth to find
// the first window in which exactly one rank is cut off, and starts the job's orbit clock inside
// it, played so that the window lasts kWindowWallS seconds of wall time. The properties users rely
// on, in the order the ranks run them:
// 1. avg with min_participants 3 and a 3 s deadline: the three linked ranks finish with the
//    average of their three buffers and the same contributor bitmap; the cut-off rank gets
//    kUnavailable saying it was left out, with its buffer unchanged, and the same bitmap.
// 2. the same with contact_aware (the contact-aware planner's plan over the three).
// 3. min_participants 4 with a 1.5 s deadline: every rank fails with kUnavailable naming the
//    cut-off rank, within the deadline, and the communicator still works.
// 4. min_participants 3 with a 30 s deadline: the cut-off rank comes back before the cutoff, so
//    the decider waits for it and the collective runs in full (the late rank catches up).
// 5. min_participants 2 with every rank linked: the full collective, at once; 6. a plain one.
// 7. min_participants above the world size: kInvalidArgument on every rank, at once; 8. a plain
//    collective still works (a refused or partial collective never breaks the communicator).
// 9. min_participants 3 while rank 3 never enters (hung, or about to die): the others finish
//    among themselves at the cutoff, within the 2 s deadline.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "crosslink/collectives/emulation/contact_plan_timeline.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/linkmodel/scenario_builder.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/coordinator_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::HasSubstr;

constexpr int kRanks = 4;
constexpr size_t kCount = 1001;
// Wall seconds the cut-off window lasts: joining (about a second on a loaded 2-core machine)
// plus steps 1 and 2's 3 s and step 3's 1.5 s deadlines, with room to spare.
constexpr double kWindowWallS = 13;

const std::string kScenario =
    std::string(CROSSLINK_SOURCE_DIR) + "/tests/runtime/data/isolated-rank.toml";

struct Window {
  int rank = -1;  // the rank cut off
  double start_s = 0;
  double end_s = 0;
};

// The first window (at least 40 orbit s long, followed by 40 s with every link up) in which one
// rank's links to all the others are down while the others' links among themselves are up, read
// from the scenario's true contact plan at half-second resolution.
Window FindIsolationWindow() {
  absl::StatusOr<linkmodel::Scenario> scenario = linkmodel::LoadScenario(kScenario);
  EXPECT_TRUE(scenario.ok()) << scenario.status();
  absl::StatusOr<linkmodel::ScenarioPlans> plans = linkmodel::BuildScenarioPlans(*scenario, 1);
  EXPECT_TRUE(plans.ok()) << plans.status();
  absl::StatusOr<std::vector<int>> sats =
      linkmodel::ResolveRankSatellites(*scenario, plans->constellation);
  EXPECT_TRUE(sats.ok()) << sats.status();
  auto truth = std::make_shared<const linkmodel::ContactPlan>(std::move(plans->truth));
  std::vector<std::vector<std::unique_ptr<collectives::ContactPlanTimeline>>> link(kRanks);
  for (int a = 0; a < kRanks; ++a) {
    link[a].resize(kRanks);
    for (int b = 0; b < kRanks; ++b) {
      if (a == b) continue;
      auto timeline = collectives::ContactPlanTimeline::Create(truth, (*sats)[a], (*sats)[b]);
      EXPECT_TRUE(timeline.ok()) << timeline.status();
      link[a][b] = std::make_unique<collectives::ContactPlanTimeline>(*std::move(timeline));
    }
  }
  // -1: every link up; r: rank r cut off and the rest linked; -2: anything else.
  auto state = [&](double t_s) {
    int isolated = -1;
    for (int r = 0; r < kRanks; ++r) {
      bool all_down = true;
      for (int p = 0; p < kRanks; ++p) {
        if (p != r && link[r][p]->At(t_s).up) all_down = false;
      }
      if (all_down) isolated = (isolated == -1) ? r : -2;
    }
    for (int a = 0; a < kRanks; ++a) {
      for (int b = 0; b < kRanks; ++b) {
        if (a == b || a == isolated || b == isolated) continue;
        if (!link[a][b]->At(t_s).up) return -2;
      }
    }
    return isolated;
  };
  constexpr double kStepS = 0.5;
  for (double t = 0; t < scenario->time.duration_s - 100; t += kStepS) {
    const int r = state(t);
    if (r < 0) continue;
    double end = t;
    while (state(end) == r) end += kStepS;
    bool up_after = true;
    for (double u = end; u < end + 40; u += kStepS) up_after = up_after && state(u) == -1;
    if (end - t >= 40 && up_after) return {r, t, end};
    t = end;
  }
  ADD_FAILURE() << "no isolation window in " << kScenario;
  return {};
}

struct StepResult {
  absl::Status status;
  std::vector<float> data;
  CollectiveStats stats;
  double seconds = 0;
};

// What rank r contributes in step `step`: small integers, so sums are exact and avg is the
// correctly rounded quotient of the exact sum.
// The options of rank `rank` of a `world_size`-rank job served by `server`.
CommunicatorOptions RankOptions(const CoordinatorServer& server, const std::string& token, int rank,
                                int world_size) {
  CommunicatorOptions options;
  options.rank = rank;
  options.world_size = world_size;
  options.coordinator_address = server.address();
  options.job_token = token;
  options.setup_timeout = absl::Seconds(60);
  return options;
}

float Value(int rank, int step, size_t i) {
  return static_cast<float>((rank + 1) * 10 + step * 100 + static_cast<int>(i % 7));
}

struct Plan {
  collectives::ReduceOp op;
  int min_participants;
  absl::Duration timeout;
  bool contact_aware = false;
  int absent = -1;  // a rank that does not call this step (nor any later one)
};
const std::vector<Plan> kSteps = {
    {collectives::ReduceOp::kAvg, 3, absl::Seconds(3)},
    {collectives::ReduceOp::kAvg, 3, absl::Seconds(3), true},
    {collectives::ReduceOp::kSum, 4, absl::Milliseconds(1500)},
    {collectives::ReduceOp::kSum, 3, absl::Seconds(30)},
    {collectives::ReduceOp::kSum, 2, absl::Seconds(30)},
    {collectives::ReduceOp::kSum, 0, absl::Seconds(30)},
    {collectives::ReduceOp::kSum, kRanks + 1, absl::Seconds(30)},
    {collectives::ReduceOp::kSum, 0, absl::Seconds(30)},
    {collectives::ReduceOp::kSum, 3, absl::Seconds(2), false, kRanks - 1},
};

TEST(PartialAllreduceTest, CutOffRankIsLeftOutThenCatchesUp) {
  const Window window = FindIsolationWindow();
  ASSERT_GE(window.rank, 0);
  const int late = window.rank;

  std::ifstream file(kScenario);
  std::stringstream text;
  text << file.rdbuf();
  CoordinatorOptions coordinator;
  coordinator.world_size = kRanks;
  coordinator.job_token = "partial-allreduce-test";
  coordinator.job_id = "partial-allreduce-test";
  coordinator.scenario_text = text.str();
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(coordinator);
  ASSERT_TRUE(server.ok()) << server.status();

  // Orbit clock: one orbit second into the window, the window's rest lasting kWindowWallS.
  const double orbit_start_s = window.start_s + 1;
  const double time_scale = (window.end_s - orbit_start_s) / kWindowWallS;
  std::vector<std::vector<StepResult>> results(kRanks);
  std::vector<absl::Status> created(kRanks);
  // The absent rank keeps its communicator (and connections) until the others are done.
  absl::BlockingCounter others_done(kRanks - 1);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r) {
    threads.emplace_back([&, r] {
      CommunicatorOptions options = RankOptions(**server, coordinator.job_token, r, kRanks);
      options.scenario_path = kScenario;
      options.orbit_start_s = orbit_start_s;
      options.time_scale = time_scale;
      absl::StatusOr<std::unique_ptr<Communicator>> comm = Communicator::Create(options);
      if (!comm.ok()) {
        created[r] = comm.status();
        return;
      }
      for (size_t step = 0; step < kSteps.size(); ++step) {
        if (kSteps[step].absent == r) {
          results[r].emplace_back();
          others_done.Wait();
          break;
        }
        StepResult result;
        result.data.resize(kCount);
        for (size_t i = 0; i < kCount; ++i) result.data[i] = Value(r, step, i);
        CollectiveOptions collective;
        collective.timeout = kSteps[step].timeout;
        collective.min_participants = kSteps[step].min_participants;
        collective.contact_aware = kSteps[step].contact_aware;
        const absl::Time start = absl::Now();
        result.status =
            (*comm)->Allreduce(result.data.data(), kCount, collectives::DataType::kFloat32,
                               kSteps[step].op, collective);
        result.seconds = absl::ToDoubleSeconds(absl::Now() - start);
        result.stats = (*comm)->last_stats();
        results[r].push_back(std::move(result));
        if (kSteps[step].absent >= 0) others_done.DecrementCount();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int r = 0; r < kRanks; ++r) ASSERT_TRUE(created[r].ok()) << "rank " << r << created[r];

  for (int r = 0; r < kRanks; ++r) {
    for (size_t step = 0; step < results[r].size(); ++step) {
      std::fprintf(stderr, "rank %d step %zu: %.3f s, %s, %d participants: %s\n", r, step + 1,
                   results[r][step].seconds, results[r][step].stats.algorithm.c_str(),
                   results[r][step].stats.participants, results[r][step].status.ToString().c_str());
    }
  }
  std::fprintf(stderr, "window: rank %d cut off over orbit [%.1f, %.1f) s\n", window.rank,
               window.start_s, window.end_s);
  std::vector<bool> expected_bitmap(kRanks, true);
  expected_bitmap[late] = false;
  // Steps 1 and 2: a partial average over the three linked ranks.
  for (int step : {0, 1}) {
    for (int r = 0; r < kRanks; ++r) {
      const StepResult& s = results[r][step];
      SCOPED_TRACE(absl::StrCat("step ", step + 1, " rank ", r));
      EXPECT_LT(s.seconds, 3.5);
      EXPECT_EQ(s.stats.contributors, expected_bitmap);
      EXPECT_EQ(s.stats.participants, kRanks - 1);
      if (r == late) {
        EXPECT_EQ(s.status.code(), absl::StatusCode::kUnavailable) << s.status;
        EXPECT_THAT(std::string(s.status.message()), HasSubstr("left out of a partial result"));
        for (size_t i = 0; i < kCount; ++i) ASSERT_EQ(s.data[i], Value(r, step, i)) << i;
        continue;
      }
      ASSERT_TRUE(s.status.ok()) << s.status;
      if (kSteps[step].contact_aware) EXPECT_THAT(s.stats.algorithm, HasSubstr("contact_aware"));
      for (size_t i = 0; i < kCount; ++i) {
        float sum = 0;
        for (int p = 0; p < kRanks; ++p) sum += p == late ? 0 : Value(p, step, i);
        ASSERT_EQ(s.data[i], sum / 3.0f) << "element " << i;
      }
    }
  }
  // Step 3: too few reachable for min_participants 4: every rank fails within the deadline.
  for (int r = 0; r < kRanks; ++r) {
    const StepResult& s = results[r][2];
    EXPECT_EQ(s.status.code(), absl::StatusCode::kUnavailable) << "rank " << r << ": " << s.status;
    EXPECT_THAT(std::string(s.status.message()), HasSubstr(absl::StrCat("rank ", late)));
    EXPECT_LT(s.seconds, 2.0) << "rank " << r;
  }
  // Step 7: a bad min_participants is refused everywhere before anything moves.
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(results[r][6].status.code(), absl::StatusCode::kInvalidArgument)
        << "rank " << r << ": " << results[r][6].status;
  }
  // Steps 4-6 and 8: everyone takes part again, with the exact sum.
  for (size_t step : {3, 4, 5, 7}) {
    for (int r = 0; r < kRanks; ++r) {
      const StepResult& s = results[r][step];
      ASSERT_TRUE(s.status.ok()) << "step " << step + 1 << " rank " << r << ": " << s.status;
      EXPECT_EQ(s.stats.participants, kRanks);
      EXPECT_EQ(s.stats.contributors, std::vector<bool>(kRanks, true));
      for (size_t i = 0; i < kCount; ++i) {
        float sum = 0;
        for (int p = 0; p < kRanks; ++p) sum += Value(p, step, i);
        ASSERT_EQ(s.data[i], sum) << "step " << step + 1 << " rank " << r << " element " << i;
      }
    }
  }
  // Step 9: the three that entered finish without the absent rank.
  for (int r = 0; r < kRanks - 1; ++r) {
    const StepResult& s = results[r][8];
    ASSERT_TRUE(s.status.ok()) << "step 9 rank " << r << ": " << s.status;
    EXPECT_EQ(s.stats.contributors, std::vector<bool>({true, true, true, false}));
    EXPECT_EQ(s.stats.participants, kRanks - 1);
    EXPECT_LT(s.seconds, 2.0);
    for (size_t i = 0; i < kCount; ++i) {
      ASSERT_EQ(s.data[i], Value(0, 8, i) + Value(1, 8, i) + Value(2, 8, i)) << "element " << i;
    }
  }
  // Step 5 found every rank linked: no waiting for a cutoff.
  for (int r = 0; r < kRanks; ++r) EXPECT_LT(results[r][4].seconds, 2.0) << "rank " << r;
}

TEST(PartialAllreduceTest, RankZeroDyingBeforeItDecidesAbortsTheOthersPromptly) {
  // Rank 0 decides the participants. If it dies first, the others, waiting for its decision,
  // learn of the death from the coordinator's membership and fail with kAborted naming it, long
  // before their 60 s deadline (heartbeats: 1 s, 3 misses).
  constexpr int kN = 3;
  CoordinatorOptions coordinator;
  coordinator.world_size = kN;
  coordinator.job_token = "partial-allreduce-dying-decider";
  coordinator.job_id = "partial-allreduce-dying-decider";
  absl::StatusOr<std::unique_ptr<CoordinatorServer>> server = CoordinatorServer::Start(coordinator);
  ASSERT_TRUE(server.ok()) << server.status();
  std::vector<absl::Status> results(kN);
  std::vector<double> seconds(kN, 0);
  std::vector<std::thread> threads;
  for (int r = 0; r < kN; ++r) {
    threads.emplace_back([&, r] {
      absl::StatusOr<std::unique_ptr<Communicator>> comm =
          Communicator::Create(RankOptions(**server, coordinator.job_token, r, kN));
      if (!comm.ok()) {
        results[r] = comm.status();
        return;
      }
      if (r == 0) {
        // Once both others wait in the first collective (sequence 1) for the decision, leave
        // without deciding: the communicator's destruction stops its heartbeats.
        for (int p = 1; p < kN; ++p) {
          results[0].Update((*comm)
                                ->coordinator()
                                .KvGet(absl::StrCat("crosslink/partial/1/state/", p, "/0"),
                                       absl::Now() + absl::Seconds(30))
                                .status());
        }
        return;
      }
      std::vector<float> data(kCount, static_cast<float>(r));
      CollectiveOptions collective;
      collective.timeout = absl::Seconds(60);
      collective.min_participants = 2;
      const absl::Time start = absl::Now();
      results[r] = (*comm)->Allreduce(data.data(), kCount, collectives::DataType::kFloat32,
                                      collectives::ReduceOp::kSum, collective);
      seconds[r] = absl::ToDoubleSeconds(absl::Now() - start);
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(results[0].ok()) << results[0];
  for (int r = 1; r < kN; ++r) {
    EXPECT_EQ(results[r].code(), absl::StatusCode::kAborted) << "rank " << r << ": " << results[r];
    EXPECT_THAT(std::string(results[r].message()), HasSubstr("rank 0")) << results[r];
    EXPECT_LT(seconds[r], 20.0) << "rank " << r;
  }
}

}  // namespace
}  // namespace crosslink::runtime
