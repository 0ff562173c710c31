// CollectiveError: how a Crosslink absl::Status crosses into code that expects exceptions (the
// c10d backend, torch's Python bindings, which turn any std::runtime_error into RuntimeError).
// The status code survives, so C++ callers can still tell kDeadlineExceeded from kAborted.
//
// Thread-safety: an immutable value.
#ifndef CROSSLINK_TORCH_COLLECTIVE_ERROR_H_
#define CROSSLINK_TORCH_COLLECTIVE_ERROR_H_

#include <exception>
#include <stdexcept>

#include "absl/status/status.h"

namespace crosslink::torch {

class CollectiveError : public std::runtime_error {
 public:
  // `status` must not be OK. what() is the status as absl prints it ("DEADLINE_EXCEEDED: ...").
  explicit CollectiveError(const absl::Status& status)
      : std::runtime_error(status.ToString()), status_(status) {}

  const absl::Status& status() const { return status_; }
  absl::StatusCode code() const { return status_.code(); }

 private:
  absl::Status status_;
};

// Throws CollectiveError unless `status` is OK.
inline void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) throw CollectiveError(status);
}

// The exception_ptr a c10d Work stores; nullptr for OK.
inline std::exception_ptr ToExceptionPtr(const absl::Status& status) {
  if (status.ok()) return nullptr;
  return std::make_exception_ptr(CollectiveError(status));
}

}  // namespace crosslink::torch

#endif  // CROSSLINK_TORCH_COLLECTIVE_ERROR_H_
