#include "crosslink/torch/collective_work.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace crosslink::torch {

CollectiveWork::CollectiveWork(std::string description) : description_(std::move(description)) {}

absl::Status CollectiveWork::Wait(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  const bool finished = mu_.AwaitWithDeadline(absl::Condition(&done_), deadline);
  if (!finished) {
    return absl::DeadlineExceededError(absl::StrCat("wait for ", description_,
                                                    " passed its deadline before the collective "
                                                    "finished (it keeps running; wait again)"));
  }
  return status_;
}

bool CollectiveWork::done() const {
  absl::MutexLock lock(&mu_);
  return done_;
}

absl::Status CollectiveWork::status() const {
  absl::MutexLock lock(&mu_);
  if (!done_) return absl::UnavailableError(absl::StrCat(description_, " is still running"));
  return status_;
}

int CollectiveWork::contributors() const {
  absl::MutexLock lock(&mu_);
  return done_ && status_.ok() ? contributors_ : 0;
}

void CollectiveWork::AddDoneCallback(DoneCallback callback) {
  absl::Status final_status;
  {
    absl::MutexLock lock(&mu_);
    if (!done_) {
      callbacks_.push_back(std::move(callback));
      return;
    }
    final_status = status_;
  }
  callback(final_status);
}

void CollectiveWork::Finish(absl::StatusOr<int> contributors) {
  absl::Status final_status = contributors.status();
  std::vector<DoneCallback> callbacks;
  {
    absl::MutexLock lock(&mu_);
    status_ = final_status;
    if (contributors.ok()) contributors_ = *contributors;
    callbacks.swap(callbacks_);
  }
  // Callbacks run before waiters wake, so that a waiter sees their effects (a c10d Work copies
  // its outputs into place in one). Callbacks added meanwhile join the next round. Dropping them
  // afterwards breaks the cycle that a callback holding its own work's owner forms.
  while (!callbacks.empty()) {
    for (DoneCallback& callback : callbacks) callback(final_status);
    callbacks.clear();
    absl::MutexLock lock(&mu_);
    callbacks.swap(callbacks_);
    if (callbacks.empty()) done_ = true;
  }
  absl::MutexLock lock(&mu_);
  done_ = true;
}

CollectiveQueue::CollectiveQueue(std::string name)
    : name_(std::move(name)), worker_([this] { WorkerLoop(); }) {}

CollectiveQueue::~CollectiveQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  worker_.join();
}

std::shared_ptr<CollectiveWork> CollectiveQueue::Enqueue(std::string description, Job job) {
  auto work = std::make_shared<CollectiveWork>(std::move(description));
  bool rejected = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      rejected = true;
    } else {
      pending_.push_back({work, std::move(job)});
    }
  }
  if (rejected) {
    work->Finish(absl::FailedPreconditionError(
        absl::StrCat(name_, " is shutting down; ", work->description(), " was not started")));
  }
  return work;
}

void CollectiveQueue::WorkerLoop() {
  while (true) {
    Entry entry;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](CollectiveQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) {
            return q->stopping_ || !q->pending_.empty();
          },
          this));
      if (stopping_) break;
      entry = std::move(pending_.front());
      pending_.pop_front();
    }
    entry.work->Finish(entry.job());
  }
  // Jobs that never started: the ranks are out of step now, so running them would only hang
  // until their deadlines.
  std::deque<Entry> abandoned;
  {
    absl::MutexLock lock(&mu_);
    abandoned.swap(pending_);
  }
  for (Entry& entry : abandoned) {
    entry.work->Finish(absl::FailedPreconditionError(
        absl::StrCat(name_, " was destroyed before ", entry.work->description(), " started")));
  }
}

}  // namespace crosslink::torch
