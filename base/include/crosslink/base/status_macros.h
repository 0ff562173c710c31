// Status propagation macros. Debian's Abseil ships no public RETURN_IF_ERROR / ASSIGN_OR_RETURN,
// so Crosslink carries this small pair. They only forward a status; they never log, so the
// message a caller sees is the one written where the error was found (what, where, which rank).
#ifndef CROSSLINK_BASE_STATUS_MACROS_H_
#define CROSSLINK_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CROSSLINK_STATUS_CONCAT_INNER_(a, b) a##b
#define CROSSLINK_STATUS_CONCAT_(a, b) CROSSLINK_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    const absl::Status crosslink_status_ = (expr);         \
    if (!crosslink_status_.ok()) return crosslink_status_; \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, F());` declares x from an absl::StatusOr, or returns its status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  CROSSLINK_ASSIGN_OR_RETURN_IMPL_(CROSSLINK_STATUS_CONCAT_(statusor_, __LINE__), lhs, expr)
#define CROSSLINK_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                     \
  if (!statusor.ok()) return statusor.status();               \
  lhs = *std::move(statusor)

#endif  // CROSSLINK_BASE_STATUS_MACROS_H_
