// ThreadSanitizer support for Debian's Abseil: linked into every program of the `tsan` preset.
//
// Why: absl::Mutex and absl::CondVar live in libabsl_synchronization.so, which Debian builds
// without -fsanitize=thread, so TSan sees neither their atomics nor the futexes they park on.
// Without help it takes every access to data a Mutex guards for a data race. Abseil itself would
// annotate its mutexes for TSan, but only when it is compiled with TSan.
//
// How: the program defines the public Mutex and CondVar entry points itself, so that the dynamic
// linker binds every call (from Crosslink, and from Abseil's own Notification and gRPC through
// their PLT) to these definitions; each calls the real one (found with dlsym(RTLD_NEXT)) and tells
// TSan what it did: a lock acquires the mutex's clock, an unlock releases into it, and a wait
// (Await, CondVar::Wait), which unlocks and relocks inside, releases before and acquires after.
// A Condition is evaluated inside those calls with the mutex held, by the waiting thread or by
// whichever thread unlocks the mutex (Abseil re-checks waiters' conditions in Unlock), at moments
// the annotations above do not see: each Condition is therefore passed on wrapped, so that every
// evaluation acquires the mutex's clock before and releases into it after (without that, TSan
// reports the condition's reads as races with the next holder's writes).
// The programs link with -rdynamic so these definitions are the ones exported.
//
// This models happens-before exactly as a mutex gives it; it does not make TSan check Abseil's
// own code (which stays uninstrumented).
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace {

template <typename Fn>
Fn Real(const char* mangled) {
  void* f = dlsym(RTLD_NEXT, mangled);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found in Abseil\n", mangled);
    std::abort();
  }
  return reinterpret_cast<Fn>(f);
}

// The mangled names carry Debian's inline namespace (debian3, Abseil 20220623).
#define CROSSLINK_ABSL "_ZN4absl7debian3"

// A Condition whose every evaluation is annotated as a critical section of `mu` (see above).
class AnnotatedCondition {
 public:
  AnnotatedCondition(const absl::Condition& cond, void* mu)
      : cond_(&cond), mu_(mu), wrapped_(&AnnotatedCondition::Eval, this) {}
  const absl::Condition& get() const { return wrapped_; }

 private:
  static bool Eval(AnnotatedCondition* self) {
    __tsan_acquire(self->mu_);
    const bool met = self->cond_->Eval();
    __tsan_release(self->mu_);
    return met;
  }
  const absl::Condition* cond_;
  void* mu_;
  absl::Condition wrapped_;
};

// Abseil's deadlock detector (on in Debian's build) keeps its lock graph under an internal
// spinlock that TSan cannot see, so TSan reports the graph's own updates as races; it is turned
// off here. TSan does not replace it for absl::Mutex: lock-order bugs are left to the normal
// builds, where the detector stays on.
const bool kDeadlockDetectionOff = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = Real<void (*)(Mutex*)>(CROSSLINK_ABSL "5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  static const auto real = Real<void (*)(Mutex*)>(CROSSLINK_ABSL "5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  static const auto real = Real<bool (*)(Mutex*)>(CROSSLINK_ABSL "5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<bool (*)(Mutex*)>(CROSSLINK_ABSL "5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  static const auto real = Real<void (*)(Mutex*)>(CROSSLINK_ABSL "5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<void (*)(Mutex*)>(CROSSLINK_ABSL "5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>(CROSSLINK_ABSL "5Mutex8LockWhenERKNS0_9ConditionE");
  real(this, AnnotatedCondition(cond, this).get());
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real = Real<void (*)(Mutex*, const Condition&)>(
      CROSSLINK_ABSL "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  real(this, AnnotatedCondition(cond, this).get());
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      CROSSLINK_ABSL "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = real(this, AnnotatedCondition(cond, this).get(), timeout);
  __tsan_acquire(this);  // held on return either way
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      CROSSLINK_ABSL "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const bool met = real(this, AnnotatedCondition(cond, this).get(), deadline);
  __tsan_acquire(this);
  return met;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      CROSSLINK_ABSL "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = real(this, AnnotatedCondition(cond, this).get(), timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      CROSSLINK_ABSL "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const bool met = real(this, AnnotatedCondition(cond, this).get(), deadline);
  __tsan_acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  static const auto real =
      Real<void (*)(Mutex*, const Condition&)>(CROSSLINK_ABSL "5Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  real(this, AnnotatedCondition(cond, this).get());
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Duration)>(
      CROSSLINK_ABSL "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  const bool met = real(this, AnnotatedCondition(cond, this).get(), timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<bool (*)(Mutex*, const Condition&, absl::Time)>(
      CROSSLINK_ABSL "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(this);
  const bool met = real(this, AnnotatedCondition(cond, this).get(), deadline);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real =
      Real<void (*)(CondVar*, Mutex*)>(CROSSLINK_ABSL "7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      CROSSLINK_ABSL "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      CROSSLINK_ABSL "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
