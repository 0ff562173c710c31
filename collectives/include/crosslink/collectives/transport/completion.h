// Completion: the Handle / RecvHandle every backend returns. A backend completes it once, from
// any thread; callers Wait on it with a deadline. The first Complete wins, so a close racing
// with a delivery yields exactly one outcome.
//
// Thread-safe. Wait blocks until completion or the deadline (kDeadlineExceeded naming the
// operation); Done and Complete never block for long.
#ifndef CROSSLINK_COLLECTIVES_TRANSPORT_COMPLETION_H_
#define CROSSLINK_COLLECTIVES_TRANSPORT_COMPLETION_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

class Completion final : public RecvHandle {
 public:
  // `what` names the operation for a deadline message ("recv on rank 0 -> rank 1 (inproc)");
  // shared so that a connection's many operations share one string.
  explicit Completion(std::shared_ptr<const std::string> what) : what_(std::move(what)) {}

  absl::Status Wait(absl::Time deadline) override;
  bool Done() const override { return done_.load(std::memory_order_acquire); }
  const FrameHeader& header() const override { return header_; }

  // Finishes the operation with `status` (and, for a receive, the header it got). Returns false,
  // changing nothing, when it was already complete.
  bool Complete(absl::Status status, const FrameHeader* header = nullptr);

  // The outcome once Done(); OK before.
  absl::Status status() const;

 private:
  const std::shared_ptr<const std::string> what_;
  mutable absl::Mutex mu_;
  std::atomic<bool> done_{false};
  bool done_locked_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  FrameHeader header_;  // written before done_ is released, read only after
};

// A completed handle, for operations that fail before they are queued.
std::shared_ptr<Completion> MakeCompleted(absl::Status status,
                                          std::shared_ptr<const std::string> what);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_TRANSPORT_COMPLETION_H_
