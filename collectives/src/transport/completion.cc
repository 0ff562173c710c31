#include "crosslink/collectives/transport/completion.h"

#include "absl/strings/str_cat.h"

namespace crosslink::collectives {

absl::Status Completion::Wait(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (!mu_.AwaitWithDeadline(absl::Condition(&done_locked_), deadline)) {
    return absl::DeadlineExceededError(
        absl::StrCat(*what_,
                     ": not complete by the deadline (the operation stays queued; "
                     "close the connection to abandon it)"));
  }
  return status_;
}

bool Completion::Complete(absl::Status status, const FrameHeader* header) {
  absl::MutexLock lock(&mu_);
  if (done_locked_) return false;
  if (header != nullptr) header_ = *header;
  status_ = std::move(status);
  done_locked_ = true;
  done_.store(true, std::memory_order_release);
  return true;
}

absl::Status Completion::status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

std::shared_ptr<Completion> MakeCompleted(absl::Status status,
                                          std::shared_ptr<const std::string> what) {
  auto completion = std::make_shared<Completion>(std::move(what));
  completion->Complete(std::move(status));
  return completion;
}

}  // namespace crosslink::collectives
