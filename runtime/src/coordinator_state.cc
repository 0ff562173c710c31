#include "coordinator_state.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::runtime {
namespace {

// How often a blocked call wakes to see whether its caller went away. Short enough that a
// cancelled long poll frees its handler thread promptly, long enough to cost nothing.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(200);

// Compares without an early exit, so response time leaks nothing about how much of a guessed
// token was right.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char ca = i < a.size() ? a[i] : 0;
    const unsigned char cb = i < b.size() ? b[i] : 0;
    diff |= ca ^ cb;
  }
  return diff == 0;
}

std::string RankList(const std::vector<int>& ranks) {
  return absl::StrCat("[", absl::StrJoin(ranks, ", "), "]");
}

}  // namespace

CoordinatorState::CoordinatorState(const CoordinatorOptions& options,
                                   std::optional<CoordinatorSnapshot> restored)
    : options_(options),
      rendezvous_deadline_(absl::Now() + options.rendezvous_timeout),
      failure_timeout_(options.heartbeat_interval * options.heartbeat_miss_count),
      addresses_(options.world_size),
      last_seen_(options.world_size, absl::InfinitePast()) {
  if (restored.has_value()) {
    absl::MutexLock lock(&mu_);
    RestoreLocked(*std::move(restored));
  }
  if (!options.state_file.empty()) {
    writer_ = std::make_unique<SnapshotWriter>(options, [this] { return Snapshot(); });
  }
  detector_ = std::thread([this] { DetectorLoop(); });
}

CoordinatorState::~CoordinatorState() {
  {
    absl::MutexLock lock(&mu_);
    stop_detector_ = true;
    shutdown_ = true;
    if (shutdown_reason_.empty()) shutdown_reason_ = "the coordinator was destroyed";
    cv_.SignalAll();
  }
  detector_.join();
}

absl::Status CoordinatorState::CheckToken(std::string_view token) const {
  if (ConstantTimeEquals(token, options_.job_token)) return absl::OkStatus();
  return absl::UnauthenticatedError(
      absl::StrCat("the job token does not match the token of job ", options_.job_id,
                   " (is CROSSLINK_JOB_TOKEN the one the launcher set?)"));
}

absl::Status CoordinatorState::CheckRankLocked(int rank) const {
  if (rank < 0 || rank >= options_.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", rank, " is out of range for world size ", options_.world_size));
  }
  if (const auto it = dead_.find(rank); it != dead_.end()) {
    return absl::AbortedError(absl::StrCat("rank ", rank, " was declared dead at membership epoch ",
                                           it->second.epoch, " (", it->second.reason,
                                           ") and cannot rejoin this job"));
  }
  return absl::OkStatus();
}

absl::Status CoordinatorState::ShutdownStatusLocked() const {
  return absl::UnavailableError(absl::StrCat("the job was shut down (", shutdown_reason_, ")"));
}

absl::Status CoordinatorState::InterruptedStatusLocked(WaitEnd end, int rank) const {
  if (end == WaitEnd::kShutdown) return ShutdownStatusLocked();
  return absl::CancelledError(rank >= 0 ? absl::StrCat("rank ", rank, " cancelled its call")
                                        : "the caller cancelled its call");
}

CoordinatorState::WaitEnd CoordinatorState::WaitLocked(const std::function<bool()>& done,
                                                       absl::Time deadline,
                                                       const CancelledFn& cancelled) {
  while (true) {
    if (done()) return WaitEnd::kCondition;
    if (shutdown_) return WaitEnd::kShutdown;
    const absl::Time now = absl::Now();
    if (now >= deadline) return WaitEnd::kDeadline;
    if (cancelled && cancelled()) return WaitEnd::kCancelled;
    cv_.WaitWithDeadline(&mu_, std::min(deadline, now + kCancelPoll));
  }
}

Membership CoordinatorState::MembershipLocked() const {
  Membership m;
  m.epoch = epoch_;
  for (int r = 0; r < options_.world_size; ++r) {
    if (!dead_.contains(r)) m.alive_ranks.push_back(r);
  }
  for (const auto& [rank, dead] : dead_) m.dead_ranks.push_back(dead);
  AddAdmissionsLocked(m);
  return m;
}

World CoordinatorState::WorldLocked() const {
  World w;
  w.job_id = options_.job_id;
  w.world_size = options_.world_size;
  for (const auto& address : addresses_) w.data_addresses.push_back(address.value_or(""));
  w.scenario_text = options_.scenario_text;
  w.membership = MembershipLocked();
  w.heartbeat_interval_ms = options_.heartbeat_interval == absl::InfiniteDuration()
                                ? 0
                                : absl::ToInt64Milliseconds(options_.heartbeat_interval);
  w.heartbeat_miss_count = options_.heartbeat_miss_count;
  return w;
}

std::string CoordinatorState::DeathsSinceLocked(int64_t epoch) const {
  std::vector<std::string> reasons;
  for (const auto& [rank, dead] : dead_) {
    if (dead.epoch > epoch) reasons.push_back(dead.reason);
  }
  if (reasons.empty()) return "no rank died";
  return absl::StrJoin(reasons, "; ");
}

std::vector<int> CoordinatorState::UnregisteredLocked() const {
  std::vector<int> missing;
  for (int r = 0; r < options_.world_size; ++r) {
    if (!addresses_[r].has_value()) missing.push_back(r);
  }
  return missing;
}

bool CoordinatorState::RendezvousClosedLocked(absl::Time now) const {
  return !rendezvous_complete_ && now >= rendezvous_deadline_;
}

void CoordinatorState::DeclareDeadLocked(int rank, std::string reason) {
  if (dead_.contains(rank)) return;  // The first reason is the cause; later ones are echoes.
  ++epoch_;
  dead_[rank] = DeadRank{rank, std::move(reason), epoch_};
  NoteChangeLocked();
  cv_.SignalAll();
}

absl::StatusOr<World> CoordinatorState::Register(int rank, int world_size, std::string data_address,
                                                 absl::Time deadline,
                                                 const CancelledFn& cancelled) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return ShutdownStatusLocked();
  if (world_size != options_.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", rank, " says the world size is ",
                                                   world_size, " but job ", options_.job_id,
                                                   " has ", options_.world_size, " ranks"));
  }
  if (absl::Status s = CheckRankLocked(rank); !s.ok()) return s;
  if (!dead_.empty() && !rendezvous_complete_) {
    return absl::AbortedError(absl::StrCat(
        "rank ", rank, " cannot join, rendezvous was aborted: ", DeathsSinceLocked(0)));
  }
  const absl::Time now = absl::Now();
  if (RendezvousClosedLocked(now)) {
    return absl::DeadlineExceededError(absl::StrCat(
        "rank ", rank, " came too late: rendezvous closed ",
        absl::FormatDuration(options_.rendezvous_timeout), " after the coordinator started with ",
        RankList(UnregisteredLocked()), " never registered"));
  }
  if (addresses_[rank].has_value() && *addresses_[rank] != data_address) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", rank, " registered twice with different data addresses (", *addresses_[rank],
        " then ", data_address, "); are two processes using the same RANK?"));
  }
  if (!addresses_[rank].has_value()) NoteChangeLocked();
  addresses_[rank] = std::move(data_address);
  last_seen_[rank] = now;
  if (!rendezvous_complete_ && UnregisteredLocked().empty()) {
    rendezvous_complete_ = true;
    ++epoch_;
    // Failure detection starts now for everyone: a rank blocked in Register could not heartbeat.
    for (absl::Time& t : last_seen_) t = now;
    NoteChangeLocked();
    cv_.SignalAll();
  }
  const WaitEnd end = WaitLocked([&] { return rendezvous_complete_ || !dead_.empty(); },
                                 std::min(deadline, rendezvous_deadline_), cancelled);
  switch (end) {
    case WaitEnd::kCondition:
      if (rendezvous_complete_) return WorldLocked();
      return absl::AbortedError(absl::StrCat("rank ", rank,
                                             " waited for the other ranks but rendezvous was "
                                             "aborted: ",
                                             DeathsSinceLocked(0)));
    case WaitEnd::kShutdown:
    case WaitEnd::kCancelled:
      return InterruptedStatusLocked(end, rank);
    case WaitEnd::kDeadline:
      break;
  }
  const std::vector<int> missing = UnregisteredLocked();
  if (RendezvousClosedLocked(absl::Now())) {
    return absl::DeadlineExceededError(absl::StrCat(
        "rendezvous did not complete within ", absl::FormatDuration(options_.rendezvous_timeout),
        ": ranks ", RankList(missing), " never registered"));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "rank ", rank, " reached its deadline with ",
      options_.world_size - static_cast<int>(missing.size()), " of ", options_.world_size,
      " ranks registered; ranks ", RankList(missing), " have not registered yet"));
}

absl::StatusOr<Membership> CoordinatorState::Heartbeat(int rank, const RankReport& report,
                                                       int64_t incarnation) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return ShutdownStatusLocked();
  if (rank < 0 || rank >= options_.world_size) return CheckRankLocked(rank);
  // Before the rank check: the view may be the one in which this coordinator learns the rank's
  // own verdict, or that it is alive after all.
  RETURN_IF_ERROR(AdoptRankViewLocked(rank, report));
  if (absl::Status s = CheckRankLocked(rank); !s.ok()) return s;
  if (absl::Status s = CheckIncarnationLocked(rank, incarnation); !s.ok()) return s;
  last_seen_[rank] = absl::Now();
  return MembershipLocked();
}

absl::StatusOr<Membership> CoordinatorState::ReportFailure(int rank, std::string reason,
                                                           int reporter_rank) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return ShutdownStatusLocked();
  if (rank < 0 || rank >= options_.world_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ReportFailure: rank ", rank, " is out of range for world size ", options_.world_size));
  }
  if (reason.empty()) {
    reason = absl::StrCat(
        "rank ", rank, " was reported dead by ",
        reporter_rank < 0 ? std::string("the launcher") : absl::StrCat("rank ", reporter_rank));
  }
  DeclareDeadLocked(rank, std::move(reason));
  return MembershipLocked();
}

absl::StatusOr<Membership> CoordinatorState::Barrier(std::string name, int rank, int64_t epoch,
                                                     absl::Time deadline,
                                                     const CancelledFn& cancelled,
                                                     int64_t incarnation, int64_t passed_generation,
                                                     int64_t* generation_out) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return ShutdownStatusLocked();
  if (absl::Status s = CheckRankLocked(rank); !s.ok()) return s;
  if (absl::Status s = CheckIncarnationLocked(rank, incarnation); !s.ok()) return s;
  if (!rendezvous_complete_) {
    return absl::FailedPreconditionError("called before rendezvous completed; Register first");
  }
  last_seen_[rank] = absl::Now();
  BarrierState& barrier = barriers_[name];  // std::map: the reference stays valid.
  // The round after the caller's last one completed already: the caller arrived at it before a
  // restart and the answer was lost. Waiting again would wait for ranks that went on. Before the
  // epoch check: a released round wins over a later membership change, for the caller that asks
  // again as for the ones that heard (an elastic job's ShouldCommit would otherwise commit on the
  // ranks that heard and drop the step on the one that asked again, and their states diverge).
  if (passed_generation > 0 && barrier.generation > passed_generation) {
    if (generation_out != nullptr) *generation_out = passed_generation + 1;
    return MembershipLocked();
  }
  if (epoch != 0 && epoch != epoch_) {
    return absl::AbortedError(absl::StrCat("membership changed from epoch ", epoch, " to ", epoch_,
                                           ": ", DeathsSinceLocked(epoch)));
  }
  const int64_t entry_epoch = epoch_;
  barrier.arrived.insert(rank);
  const auto all_alive_arrived = [&] {
    for (int r = 0; r < options_.world_size; ++r) {
      if (!dead_.contains(r) && !barrier.arrived.contains(r)) return false;
    }
    return true;
  };
  if (all_alive_arrived()) {
    ++barrier.generation;
    barrier.arrived.clear();
    NoteChangeLocked();
    cv_.SignalAll();
    if (generation_out != nullptr) *generation_out = barrier.generation;
    return MembershipLocked();
  }
  const int64_t generation = barrier.generation;
  const WaitEnd end =
      WaitLocked([&] { return barrier.generation != generation || epoch_ != entry_epoch; },
                 deadline, cancelled);
  // A released round wins over a later membership change: the barrier did complete.
  if (barrier.generation != generation) {
    if (generation_out != nullptr) *generation_out = generation + 1;
    return MembershipLocked();
  }
  barrier.arrived.erase(rank);
  switch (end) {
    case WaitEnd::kCondition:
      return absl::AbortedError(absl::StrCat("membership changed while waiting (epoch ",
                                             entry_epoch, " -> ", epoch_,
                                             "): ", DeathsSinceLocked(entry_epoch)));
    case WaitEnd::kShutdown:
    case WaitEnd::kCancelled:
      return InterruptedStatusLocked(end, rank);
    case WaitEnd::kDeadline:
      break;
  }
  std::vector<int> missing;
  for (int r = 0; r < options_.world_size; ++r) {
    if (!dead_.contains(r) && !barrier.arrived.contains(r) && r != rank) missing.push_back(r);
  }
  return absl::DeadlineExceededError(
      absl::StrCat("deadline passed while waiting for ranks ", RankList(missing), " to arrive"));
}

namespace {

// Prefixes of the keys the runtime writes once or a few times per collective or step (the
// contact-aware planning time, the partial allreduce's agreement, an elastic job's commit votes):
// they expire (CoordinatorOptions).
constexpr std::string_view kTransientKeyPrefixes[] = {
    "crosslink/contact_aware/", "crosslink/partial/", "crosslink/commit/", "crosslink/state/"};

bool IsTransientKey(std::string_view key) {
  for (std::string_view prefix : kTransientKeyPrefixes) {
    if (key.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

}  // namespace

void CoordinatorState::NoteKvWriteLocked(const std::string& key) {
  const absl::Time now = absl::Now();
  if (IsTransientKey(key)) {
    transient_writes_.emplace_back(now, key);
    transient_last_write_[key] = now;
  }
  const absl::Time cutoff = now - options_.transient_key_lifetime;
  while (!transient_writes_.empty() && transient_writes_.front().first <= cutoff) {
    const auto& [written, old_key] = transient_writes_.front();
    if (const auto it = transient_last_write_.find(old_key);
        it != transient_last_write_.end() && it->second == written) {
      if (const auto kv = kv_.find(old_key); kv != kv_.end()) {
        kv_bytes_ -= static_cast<int64_t>(kv->first.size() + kv->second.size());
        kv_.erase(kv);
      }
      transient_last_write_.erase(it);
    }
    transient_writes_.pop_front();
  }
}

absl::Status CoordinatorState::CheckKvQuotaLocked(std::string_view call, std::string_view key,
                                                  size_t value_size) const {
  constexpr size_t kShownKeyBytes = 64;
  const std::string shown = key.size() <= kShownKeyBytes
                                ? std::string(key)
                                : absl::StrCat(std::string(key.substr(0, kShownKeyBytes)), "...");
  const auto refused = [&](absl::StatusCode code, auto&&... what) {
    return absl::Status(
        code, absl::StrCat(std::string(call), " of key '", shown, "' refused: ", what...));
  };
  if (static_cast<int64_t>(key.size()) > options_.max_kv_key_bytes) {
    return refused(absl::StatusCode::kInvalidArgument, "the key is ", key.size(),
                   " bytes, over the limit of ", options_.max_kv_key_bytes,
                   " (CoordinatorOptions::max_kv_key_bytes)");
  }
  if (static_cast<int64_t>(value_size) > options_.max_kv_value_bytes) {
    return refused(absl::StatusCode::kInvalidArgument, "the value is ", value_size,
                   " bytes, over the limit of ", options_.max_kv_value_bytes,
                   " (CoordinatorOptions::max_kv_value_bytes)");
  }
  const auto it = kv_.find(std::string(key));
  if (it == kv_.end() && static_cast<int64_t>(kv_.size()) >= options_.max_kv_keys) {
    return refused(absl::StatusCode::kResourceExhausted, "the store already holds ", kv_.size(),
                   " keys, the limit (CoordinatorOptions::max_kv_keys)");
  }
  const int64_t old_bytes =
      it == kv_.end() ? 0 : static_cast<int64_t>(it->first.size() + it->second.size());
  const int64_t new_total = kv_bytes_ - old_bytes + static_cast<int64_t>(key.size() + value_size);
  if (new_total > options_.max_kv_total_bytes) {
    return refused(absl::StatusCode::kResourceExhausted, "the store would hold ", new_total,
                   " bytes, over the limit of ", options_.max_kv_total_bytes,
                   " (CoordinatorOptions::max_kv_total_bytes)");
  }
  return absl::OkStatus();
}

void CoordinatorState::PutKvLocked(std::string key, std::string value) {
  kv_bytes_ += static_cast<int64_t>(value.size());
  if (const auto it = kv_.find(key); it != kv_.end()) {
    kv_bytes_ -= static_cast<int64_t>(it->second.size());
    it->second = std::move(value);
    return;
  }
  kv_bytes_ += static_cast<int64_t>(key.size());
  kv_.emplace(std::move(key), std::move(value));
}

absl::Status CoordinatorState::KvSet(std::string key, std::string value) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return ShutdownStatusLocked();
  RETURN_IF_ERROR(CheckKvQuotaLocked("KvSet", key, value.size()));
  NoteKvWriteLocked(key);
  PutKvLocked(std::move(key), std::move(value));
  NoteChangeLocked();
  cv_.SignalAll();
  return absl::OkStatus();
}

absl::StatusOr<std::string> CoordinatorState::KvGet(std::string key, absl::Time deadline,
                                                    const CancelledFn& cancelled) {
  absl::MutexLock lock(&mu_);
  const WaitEnd end = WaitLocked([&] { return kv_.contains(key); }, deadline, cancelled);
  switch (end) {
    case WaitEnd::kCondition:
      return kv_.at(key);
    case WaitEnd::kShutdown:
    case WaitEnd::kCancelled:
      return InterruptedStatusLocked(end, -1);
    case WaitEnd::kDeadline:
      break;
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no rank set key '", key, "' before the deadline"));
}

absl::StatusOr<int64_t> CoordinatorState::KvAdd(std::string key, int64_t delta) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return ShutdownStatusLocked();
  int64_t value = 0;
  if (const auto it = kv_.find(key); it != kv_.end() && !absl::SimpleAtoi(it->second, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("key '", key, "' holds a non-integer value set by KvSet, not a counter"));
  }
  value += delta;
  std::string text = absl::StrCat(value);
  RETURN_IF_ERROR(CheckKvQuotaLocked("KvAdd", key, text.size()));
  NoteKvWriteLocked(key);
  PutKvLocked(std::move(key), std::move(text));
  NoteChangeLocked();
  cv_.SignalAll();
  return value;
}

void CoordinatorState::Shutdown(std::string reason, bool job_ended) {
  absl::MutexLock lock(&mu_);
  if (shutdown_) return;
  shutdown_ = true;
  job_ended_ = job_ended;
  shutdown_reason_ = reason.empty() ? "no reason given" : std::move(reason);
  cv_.SignalAll();
}

bool CoordinatorState::WaitForShutdownRequest(absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  while (!shutdown_) {
    if (cv_.WaitWithDeadline(&mu_, deadline)) return shutdown_;
  }
  return true;
}

Membership CoordinatorState::membership() const {
  absl::MutexLock lock(&mu_);
  return MembershipLocked();
}

bool CoordinatorState::job_ended() const {
  absl::MutexLock lock(&mu_);
  return job_ended_;
}

absl::Status CoordinatorState::CheckReporter(int rank, int reporter_rank,
                                             std::string_view launcher_token) const {
  if (reporter_rank >= 0) {
    if (reporter_rank == rank) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        "rank ", reporter_rank, " may not report rank ", rank,
        " dead: a rank reports only itself; the launcher and the coordinator's own failure "
        "detector report the others"));
  }
  if (!options_.launcher_token.empty() &&
      ConstantTimeEquals(launcher_token, options_.launcher_token)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat("a failure report of rank ", rank, " for the launcher of job ", options_.job_id,
                   options_.launcher_token.empty()
                       ? std::string(" was refused: this coordinator accepts no remote launcher")
                       : std::string(" was refused: it lacks the launcher's credential")));
}

void CoordinatorState::DetectorLoop() {
  const bool enabled = failure_timeout_ != absl::InfiniteDuration() &&
                       options_.heartbeat_miss_count > 0 &&
                       options_.heartbeat_interval > absl::ZeroDuration();
  absl::MutexLock lock(&mu_);
  while (!stop_detector_ && !shutdown_) {
    absl::Time wake = absl::InfiniteFuture();
    if (enabled && rendezvous_complete_) {
      const absl::Time now = absl::Now();
      for (int r = 0; r < options_.world_size; ++r) {
        if (dead_.contains(r)) continue;
        const absl::Time expiry = last_seen_[r] + failure_timeout_;
        if (now >= expiry) {
          DeclareDeadLocked(
              r, absl::StrCat(
                     "rank ", r, " missed heartbeats for ",
                     absl::FormatDuration(absl::Trunc(now - last_seen_[r], absl::Milliseconds(1))),
                     " (limit ", options_.heartbeat_miss_count, " x ",
                     absl::FormatDuration(options_.heartbeat_interval), ")"));
        } else {
          wake = std::min(wake, expiry);
        }
      }
    }
    // Heartbeats only push expiries later, so sleeping until the earliest one misses nothing;
    // rendezvous completion and stop signal the condition variable.
    cv_.WaitWithDeadline(&mu_, wake);
  }
}

}  // namespace crosslink::runtime
