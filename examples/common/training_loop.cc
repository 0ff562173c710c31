#include "common/training_loop.h"

#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::examples {

void TrainingLoop::RegisterPosition(crosslink::torch::ElasticState& state) {
  state.AddCounter("loop.next_step", &next_step);
  state.AddCounter("loop.next_evaluation", &next_evaluation);
}

absl::Status TrainingLoop::Run(crosslink::torch::ElasticTrainer* trainer) {
  if (next_evaluation < 0) next_evaluation = first_evaluation;
  // Whether evaluation `e` is due: after every step of epochs 1..e (epoch 0: before any).
  const auto evaluation_due = [&] { return next_step >= next_evaluation * steps_per_epoch; };
  while (next_evaluation <= epochs) {
    if (trainer == nullptr) {
      if (evaluation_due()) {
        const int epoch = static_cast<int>(next_evaluation);
        RETURN_IF_ERROR(evaluate(epoch));
        record_evaluation(epoch);
        ++next_evaluation;
      } else {
        const int epoch = static_cast<int>(next_step / steps_per_epoch) + 1;
        const int64_t step = next_step % steps_per_epoch;
        RETURN_IF_ERROR(train_step(epoch, step));
        commit_step(epoch, step);
        ++next_step;
      }
      continue;
    }
    // Elastic: what the step does is decided inside it, after the quorum's sync, from the
    // position every live rank now shares.
    bool evaluation = false;
    int epoch = 0;
    int64_t step = 0;
    ASSIGN_OR_RETURN(const crosslink::torch::ElasticStepResult result,
                     trainer->Step(
                         [&]() -> absl::Status {
                           evaluation = evaluation_due();
                           if (evaluation) {
                             epoch = static_cast<int>(next_evaluation);
                             return evaluate(epoch);
                           }
                           epoch = static_cast<int>(next_step / steps_per_epoch) + 1;
                           step = next_step % steps_per_epoch;
                           return train_step(epoch, step);
                         },
                         [&] {
                           if (evaluation) {
                             record_evaluation(epoch);
                           } else {
                             commit_step(epoch, step);
                           }
                         }));
    if (evaluation) {
      if (result.committed) ++next_evaluation;
    } else {
      if (!result.committed && drop_step) drop_step(epoch, step);
      ++next_step;
    }
  }
  return absl::OkStatus();
}

}  // namespace crosslink::examples
