// TrainingLoop: the shape both example programs train in (epochs of steps, each epoch followed by
// an evaluation whose collectives sum figures over the ranks), run either plainly or, with
// --elastic, through crosslink::torch::ElasticTrainer (elastic_trainer.h), which keeps the job
// going while ranks die and come back.
//
// Elastic: the loop's position (the next step, the next evaluation) lives in two counters that
// the ElasticState holds, so a rejoined rank continues where the live ranks are; every step is a
// trainer Step (quorum, state sync when due, the step's collectives, commit or drop on every
// survivor alike); a step whose commit failed is not repeated (its batch is skipped on every
// survivor, as TorchFT does), an evaluation is repeated until it commits (its figures must be
// those of one model and every live rank). The position advances after every step on every live
// rank, so the ranks never drift apart.
//
// Blocking: Run blocks for the whole training. Not thread-safe: call from the training thread.
// Errors: the callbacks' and the trainer's (elastic_trainer.h).
#ifndef CROSSLINK_EXAMPLES_COMMON_TRAINING_LOOP_H_
#define CROSSLINK_EXAMPLES_COMMON_TRAINING_LOOP_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "crosslink/torch/elastic_state.h"
#include "crosslink/torch/elastic_trainer.h"

namespace crosslink::examples {

struct TrainingLoop {
  int epochs = 1;
  int64_t steps_per_epoch = 1;
  // The first evaluation: 0 evaluates the untrained model first, 1 evaluates after epoch 1.
  int first_evaluation = 1;
  // One step (0-based within its epoch, 1-based epoch): computation and collectives; returns
  // their first failure. Elastic: runs again on no rank, whatever the commit says.
  std::function<absl::Status(int epoch, int64_t step)> train_step;
  // Applies the step (the optimiser's step). Elastic: only when every survivor committed it.
  std::function<void(int epoch, int64_t step)> commit_step;
  // Elastic: the step was dropped on every survivor (may be empty).
  std::function<void(int epoch, int64_t step)> drop_step;
  // The evaluation after `epoch`: collectives over the ranks into figures the callback keeps;
  // record_evaluation then takes them (elastic: once every survivor committed the evaluation).
  std::function<absl::Status(int epoch)> evaluate;
  std::function<void(int epoch)> record_evaluation;

  // Where the loop is; an elastic job's ElasticState holds them (RegisterPosition).
  int64_t next_step = 0;         // over all epochs
  int64_t next_evaluation = -1;  // -1: first_evaluation (Run sets it before its first step)

  // Adds the position to `state` (before the trainer's first Step).
  void RegisterPosition(crosslink::torch::ElasticState& state);
  // Runs every step and evaluation; elastic when `trainer` is not null.
  absl::Status Run(crosslink::torch::ElasticTrainer* trainer);
};

}  // namespace crosslink::examples

#endif  // CROSSLINK_EXAMPLES_COMMON_TRAINING_LOOP_H_
