// CollectiveWork and CollectiveQueue: asynchronous collectives on one Communicator.
//
// The Communicator runs one collective at a time and every rank must issue them in the same order
// (communicator.h). A CollectiveQueue owns one worker thread that runs queued jobs strictly in
// the order they were enqueued, so a program (its training loop, the c10d backend, the gradient
// bucketer) can launch collectives from any thread and keep computing while they run; the order
// of Enqueue calls is the order on the wire. Each job returns the number of ranks whose data its
// result holds (the world size today; a degraded collective may later report fewer, which is why
// averaging divides by contributors() and not by the world size).
//
// Thread-safety: every method of both classes is thread-safe. Done callbacks run on the worker
// thread (or on the caller's thread when the work is already done) and must not block on other
// work of the same queue.
//
// Torch-free on purpose: this header is included by files that do not need libtorch.
#ifndef CROSSLINK_TORCH_COLLECTIVE_WORK_H_
#define CROSSLINK_TORCH_COLLECTIVE_WORK_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace crosslink::torch {

// The handle of one queued collective.
class CollectiveWork {
 public:
  using DoneCallback = std::function<void(const absl::Status&)>;

  explicit CollectiveWork(std::string description);
  CollectiveWork(const CollectiveWork&) = delete;
  CollectiveWork& operator=(const CollectiveWork&) = delete;

  // Blocks until the collective has finished or `deadline` passes. Returns the collective's own
  // status (its codes are those of communicator.h, plus kFailedPrecondition when the queue was
  // destroyed before it started), or kDeadlineExceeded naming the collective when `deadline`
  // passed first; the collective then keeps running and Wait may be called again.
  absl::Status Wait(absl::Time deadline) const;

  bool done() const;
  // The final status; kUnavailable ("still running") before done().
  absl::Status status() const;
  // Ranks whose data the result holds; 0 until the collective succeeded.
  int contributors() const;
  // "allreduce of 1024 float32 (4096 bytes)": for messages.
  const std::string& description() const { return description_; }

  // Runs `callback` with the final status once done (at once, on this thread, if already done).
  void AddDoneCallback(DoneCallback callback);

 private:
  friend class CollectiveQueue;
  void Finish(absl::StatusOr<int> contributors);

  const std::string description_;
  mutable absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  int contributors_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<DoneCallback> callbacks_ ABSL_GUARDED_BY(mu_);
};

// One worker thread running jobs in enqueue order.
class CollectiveQueue {
 public:
  // A job runs one collective and returns its contributor count.
  using Job = std::function<absl::StatusOr<int>()>;

  explicit CollectiveQueue(std::string name);
  // Jobs not yet started finish with kFailedPrecondition; the running one is waited for (it is
  // bounded by its own collective deadline). Then the worker thread is joined.
  ~CollectiveQueue();
  CollectiveQueue(const CollectiveQueue&) = delete;
  CollectiveQueue& operator=(const CollectiveQueue&) = delete;

  // Queues `job` behind every job enqueued before it; never blocks on the collective.
  std::shared_ptr<CollectiveWork> Enqueue(std::string description, Job job);

 private:
  struct Entry {
    std::shared_ptr<CollectiveWork> work;
    Job job;
  };
  void WorkerLoop();

  const std::string name_;
  absl::Mutex mu_;
  std::deque<Entry> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace crosslink::torch

#endif  // CROSSLINK_TORCH_COLLECTIVE_WORK_H_
