// What every example training program does around its training loop, whatever it trains:
// join the job (crosslink-run, Slurm, Open MPI or torchrun-style
// variables), start every rank from rank 0's weights, sum a few figures over the ranks, find the
// intervals in which rank 0's links were down (for the plots), and fingerprint the parameters
// (to show that data-parallel ranks hold the same model).
//
// Blocking: JoinJob blocks until every rank joined (bounded by its timeout); the collectives
// block as TensorCollectives' do (each bounded by its CollectiveOptions' timeout). Not
// thread-safe: call from the training thread. Errors: the runtime's codes (communicator.h).
#ifndef CROSSLINK_EXAMPLES_COMMON_TRAINING_JOB_H_
#define CROSSLINK_EXAMPLES_COMMON_TRAINING_JOB_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/torch/elastic_state.h"
#include "crosslink/torch/elastic_trainer.h"
#include "crosslink/torch/tensor_collectives.h"

namespace crosslink::examples {

// One rank's handle on the job: the communicator and the one TensorCollectives every collective
// of the program goes through (tensor_collectives.h); with --elastic, the state a rejoined rank
// receives and the trainer that runs the elastic loop (elastic_trainer.h).
struct TrainingJob {
  std::shared_ptr<runtime::Communicator> comm;
  std::shared_ptr<crosslink::torch::TensorCollectives> collectives;
  std::unique_ptr<crosslink::torch::ElasticState> state;
  std::unique_ptr<crosslink::torch::ElasticTrainer> trainer;
  int rank() const { return comm->rank(); }
  int world_size() const { return comm->world_size(); }
  bool elastic() const { return trainer != nullptr; }
  // The rank that prints the job's figures: rank 0, or an elastic job's lowest live rank (rank 0
  // may be dead, or a restarted process).
  bool leader() const { return collectives->decider() == comm->rank(); }
  // This rank's share of data dealt out among the ranks: {its index, how many}; an elastic job's
  // live ranks share the data among themselves.
  std::pair<int, int> shard() const;
  // Membership changes the job went through (0 without --elastic).
  int64_t membership_changes() const { return trainer ? trainer->membership_changes() : 0; }
  // The scenario's name, or "none (ideal links)".
  std::string scenario_name() const;
};

// torch::set_num_threads(1), out of line so that ExampleMain needs no torch header.
void SetOneTorchThread();

// Joins the job from the launcher's environment. `scenario_flag` (a program's --scenario) names
// the scenario when no launcher did (an embedded coordinator then serves it to every rank);
// under crosslink-run the launcher's --scenario is the one played, and rank 0 says on stderr
// when the flag had no effect.
// With `elastic` (a program's --elastic) the communicator is elastic (CROSSLINK_ELASTIC=1; a
// process that crosslink-run --max-restarts started again rejoins) and the job gets an empty
// ElasticState and an ElasticTrainer: the program registers its state before training.
absl::StatusOr<TrainingJob> JoinJob(const std::string& scenario_flag, absl::Duration timeout,
                                    std::string_view program, bool elastic = false);

// Overwrites every rank's parameters with rank 0's: the same start whatever each rank's RNG did.
// Elastic jobs skip it: their first step's state sync checks that every rank starts alike, and a
// rejoined rank takes the live ranks' state instead.
absl::Status BroadcastParameters(TrainingJob& job, const std::vector<at::Tensor>& parameters);

// The wall instant training started, the same on every rank of an elastic job (rank 0's first
// process publishes it in the coordinator's key-value store; a restarted process reads it), so
// that wall_s means the same whoever reports it; this rank's Now() without --elastic.
absl::StatusOr<absl::Time> TrainingStart(TrainingJob& job);

// Sums `values` over the ranks in place (one small float64 allreduce).
absl::Status SumOverRanks(TrainingJob& job, std::vector<double>& values);

// The wall-second intervals (since `train_start`, up to `until_s`) in which a direct crosslink
// between rank 0's satellite and another rank's was down in the scenario's TRUE contact plan
// (sampled), with a note for a plot title saying so; no intervals and an "ideal links" note
// without a scenario.
std::pair<std::vector<std::pair<double, double>>, std::string> RankZeroOutages(
    const TrainingJob& job, absl::Time train_start, double until_s);

// The end of every example: no rank leaves while a peer may still read from its connections (rank
// 0 may also host the coordinator, and every rank's own lines must be out first: a barrier, an
// elastic job's through its trainer until it commits), then the leader prints the job's last
// line, "final <metric>=<value> outages=<n> wall_s=<s> membership_changes=<n>", which tests and
// scripts read. Collective.
absl::Status FinishJob(TrainingJob& job, std::string_view metric, double value, int64_t outages,
                       double wall_s);

// An example's main(): `parse` reads the flags (an exit code when the program should stop there:
// --help, a usage error), then one torch thread per rank (the ranks of a local job share the
// machine's cores), then `train`; a failure is printed as "<program>: <status>" and exits 1.
template <typename Flags, typename Train>
int ExampleMain(int argc, char** argv, std::string_view program,
                std::optional<int> (*parse)(int, char**, Flags*), Train train) {
  Flags flags;
  if (std::optional<int> exit_code = parse(argc, argv, &flags)) return *exit_code;
  SetOneTorchThread();
  const absl::Status status = train(std::move(flags));
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", std::string(program).c_str(), status.ToString().c_str());
    return 1;
  }
  return 0;
}

// FNV-1a (64 bit) over the bytes of the parameters, in order: equal on two ranks exactly when
// their parameters are bitwise equal (up to hash collisions). CPU tensors.
uint64_t ParameterDigest(const std::vector<at::Tensor>& parameters);

}  // namespace crosslink::examples

#endif  // CROSSLINK_EXAMPLES_COMMON_TRAINING_JOB_H_
