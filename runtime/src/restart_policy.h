// RestartPolicy: when crosslink-run restarts a rank that died (--max-restarts K). A rank that
// exits non-zero or is killed by a signal, while the launcher is not itself ending the job, is
// started again (same rank, CROSSLINK_RESTART_COUNT = its restart number, so the new process
// rejoins the elastic job: communicator.h) up to K times per rank, each after a backoff that
// doubles from `first_backoff` up to `max_backoff`: a rank that crashes at once again does not
// spin, and the coordinator has time to declare the old process dead before the new one asks to
// rejoin. A clean exit (status 0) is never restarted. Not thread-safe (the launcher's loop owns
// it).
#ifndef CROSSLINK_RUNTIME_SRC_RESTART_POLICY_H_
#define CROSSLINK_RUNTIME_SRC_RESTART_POLICY_H_

#include <map>
#include <optional>

#include "absl/time/time.h"

namespace crosslink::runtime {

class RestartPolicy {
 public:
  RestartPolicy(int max_restarts, absl::Duration first_backoff = absl::Milliseconds(500),
                absl::Duration max_backoff = absl::Seconds(8));

  // For a rank that just failed at `now`: when to start it again, or nullopt when its restarts
  // are spent (or max_restarts is 0). Counts the restart.
  std::optional<absl::Time> OnFailure(int rank, absl::Time now);
  // Restarts granted to `rank` so far (its next process's CROSSLINK_RESTART_COUNT).
  int restarts(int rank) const;
  int total_restarts() const;
  int max_restarts() const { return max_restarts_; }

 private:
  const int max_restarts_;
  const absl::Duration first_backoff_;
  const absl::Duration max_backoff_;
  std::map<int, int> restarts_;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_RESTART_POLICY_H_
