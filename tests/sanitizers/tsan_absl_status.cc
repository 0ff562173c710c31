// ThreadSanitizer support for Debian's Abseil, part two: absl::Status's reference count. Linked
// into every program of the `tsan` preset with tsan_absl_mutex.cc (see there for the approach).
//
// Why: an error Status points to a shared, reference-counted StatusRep. Copying one increments
// the count inline (status.h, compiled into Crosslink and so seen by TSan), but dropping one
// calls Status::UnrefNonInlined in libabsl_status.so, built without TSan: the decrement that
// orders every holder's last use before the final holder's `delete` is invisible, and TSan
// reports the delete as racing with another thread's earlier copy (an ordinary hand-over: one
// thread reads a connection's sticky status while another drops the connection).
//
// How: the program defines Status::UnrefNonInlined itself, with the body of Abseil 20220623's
// (status.cc), so the dynamic linker binds every call, Abseil's own through its PLT included, to
// this instrumented copy and TSan sees the acquire/release decrement. The programs link with
// -rdynamic so this definition is the one exported.
#include <atomic>
#include <cstdint>

#include "absl/status/status.h"

namespace absl {
ABSL_NAMESPACE_BEGIN

void Status::UnrefNonInlined(uintptr_t rep) {
  status_internal::StatusRep* r = RepToPointer(rep);
  // The sole holder may skip the atomic decrement: no other thread can reach `r`.
  if (r->ref.load(std::memory_order_acquire) == 1 ||
      r->ref.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    delete r;
  }
}

ABSL_NAMESPACE_END
}  // namespace absl
