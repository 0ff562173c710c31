// CoordinatorState: the job state behind the coordinator's RPCs (rendezvous, membership, failure
// detection, barriers, key-value store), free of gRPC so that the state machine reads on its own.
// CoordinatorServer adapts it to the generated service; nothing outside runtime/src includes this.
//
// Thread-safety: every method is thread-safe; one mutex guards the whole state, which is small and
// touched briefly. Blocking methods wait on a condition variable until their condition holds, the
// deadline passes, the call is cancelled or the job shuts down.
#ifndef CROSSLINK_RUNTIME_SRC_COORDINATOR_STATE_H_
#define CROSSLINK_RUNTIME_SRC_COORDINATOR_STATE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator_persistence.h"
#include "crosslink/runtime/coordinator_server.h"
#include "crosslink/runtime/membership.h"

namespace crosslink::runtime {

class CoordinatorState {
 public:
  // Returns true when the caller of a blocking method has gone away (its RPC was cancelled).
  using CancelledFn = std::function<bool()>;

  // What a rank's heartbeat says about it, for a coordinator that restarted (HeartbeatRequest).
  struct RankReport {
    // The newest view the rank holds; epoch 0 when it sent none.
    Membership known_membership;
    std::string data_address;
    int world_size = 0;  // 0: not sent
  };

  // Options must be validated by the caller. `restored`: the state a state file held (the caller
  // read and validated it). Starts the failure-detector thread, and the snapshot writer when
  // options.state_file is set.
  explicit CoordinatorState(const CoordinatorOptions& options,
                            std::optional<CoordinatorSnapshot> restored = std::nullopt);
  ~CoordinatorState();

  // UNAUTHENTICATED unless `token` equals the job token. The message never contains a token; the
  // client adds which call and which rank.
  absl::Status CheckToken(std::string_view token) const;

  absl::StatusOr<World> Register(int rank, int world_size, std::string data_address,
                                 absl::Time deadline, const CancelledFn& cancelled);
  // With `report`, a coordinator that restarted restores the job from it (coordinator_recovery.cc).
  // `incarnation`: the caller's (0 for the first process of a rank; Rejoin returns later ones);
  // a stale one is refused with kAborted.
  absl::StatusOr<Membership> Heartbeat(int rank, const RankReport& report, int64_t incarnation = 0);
  absl::StatusOr<Membership> Heartbeat(int rank);
  // reporter_rank -1 means the launcher.
  absl::StatusOr<Membership> ReportFailure(int rank, std::string reason, int reporter_rank);
  // PERMISSION_DENIED unless a remote failure report about `rank` by `reporter_rank` is allowed:
  // a rank may report only itself; other reports need reporter -1 and the launcher's token.
  absl::Status CheckReporter(int rank, int reporter_rank, std::string_view launcher_token) const;
  // The state to persist (coordinator_persistence.h).
  CoordinatorSnapshot Snapshot() const;
  // Writes any pending change to the state file; returns at once without one.
  void FlushSnapshot();
  // Whether Shutdown came from a Shutdown request (the job ended) rather than the server stopping.
  bool job_ended() const;
  // `passed_generation`: the round of `name` the caller last passed (0: unknown); a later round
  // that completed already (a restart lost its answer) returns at once. *generation (when not
  // null) gets the generation of the round passed. A release is persisted (FlushSnapshot before
  // answering makes it durable).
  absl::StatusOr<Membership> Barrier(std::string name, int rank, int64_t epoch, absl::Time deadline,
                                     const CancelledFn& cancelled, int64_t incarnation = 0,
                                     int64_t passed_generation = 0, int64_t* generation = nullptr);

  // Elastic rejoin (rank_admission.cc). Rejoin: a new process of dead rank `rank` waits to be
  // admitted (listed in Membership::joining_ranks) until a live rank calls Admit at its step
  // boundary, then returns the world (its new data address in it) and its incarnation;
  // kInvalidArgument (world size, rank), kFailedPrecondition (rendezvous not complete; the rank is
  // still alive: its old process has not been declared dead yet, retry), kDeadlineExceeded (nobody
  // admitted it). Admit: when `epoch` is the current one and ranks wait, admits them all in a new
  // epoch; always returns the (new) view. kAborted for a dead or stale caller.
  struct Rejoined {
    World world;
    int64_t incarnation = 0;
  };
  absl::StatusOr<Rejoined> Rejoin(int rank, int world_size, std::string data_address,
                                  absl::Time deadline, const CancelledFn& cancelled);
  absl::StatusOr<Membership> Admit(int rank, int64_t incarnation, int64_t epoch);
  absl::Status KvSet(std::string key, std::string value);
  absl::StatusOr<std::string> KvGet(std::string key, absl::Time deadline,
                                    const CancelledFn& cancelled);
  absl::StatusOr<int64_t> KvAdd(std::string key, int64_t delta);
  // Marks the job shut down and wakes every waiter. Idempotent (the first reason stays).
  // `job_ended`: a Shutdown request ended the job (final for the ranks), rather than the server
  // stopping (which a restart may follow).
  void Shutdown(std::string reason, bool job_ended = false);

  bool WaitForShutdownRequest(absl::Time deadline) const;
  Membership membership() const;

 private:
  enum class WaitEnd { kCondition, kDeadline, kCancelled, kShutdown };

  // Waits until `done()` holds, `deadline` passes, `cancelled()` or shutdown. Wakes at least every
  // kCancelPoll to notice cancelled calls, since gRPC offers no wake-up on cancellation to a
  // synchronous handler.
  WaitEnd WaitLocked(const std::function<bool()>& done, absl::Time deadline,
                     const CancelledFn& cancelled) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckRankLocked(int rank) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // kAborted unless `incarnation` is rank's current one (rank_admission.cc).
  // A restarted coordinator takes the admissions (each rank's incarnation) of a membership its
  // state file or a rank's view holds (coordinator_recovery.cc).
  void RestoreAdmissionsLocked(const Membership& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckIncarnationLocked(int rank, int64_t incarnation) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the admitted and joining ranks to a view (rank_admission.cc).
  void AddAdmissionsLocked(Membership& m) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ShutdownStatusLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The status of a wait that ended by shutdown (kUnavailable) or by `rank` (-1: unnamed)
  // cancelling its call (kCancelled).
  absl::Status InterruptedStatusLocked(WaitEnd end, int rank) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeclareDeadLocked(int rank, std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Membership MembershipLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  World WorldLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // "rank 2 exited with status 9; rank 3 missed heartbeats for 3s" for deaths after `epoch`.
  std::string DeathsSinceLocked(int64_t epoch) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<int> UnregisteredLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool RendezvousClosedLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DetectorLoop();
  // Tells the snapshot writer the state changed (no-op without a state file).
  void NoteChangeLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Restart recovery (coordinator_recovery.cc): adopts `report`'s view when it is newer than this
  // coordinator's and the coordinator restarted (it never completed rendezvous itself, or it
  // reloaded a state file within the last failure timeout). kInvalidArgument for a bad view.
  absl::Status AdoptRankViewLocked(int rank, const RankReport& report)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes over a reloaded state file's state (coordinator_recovery.cc).
  void RestoreLocked(CoordinatorSnapshot snapshot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // How long after a restart ranks' views may still replace this coordinator's: one failure
  // timeout (every live rank heartbeats within it), or a minute when detection is off.
  absl::Duration AdoptWindow() const;
  // Records a write of `key` if it is transient, and drops the transient keys whose lifetime
  // has passed since their last write.
  void NoteKvWriteLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // INVALID_ARGUMENT or RESOURCE_EXHAUSTED (CoordinatorOptions' KV quotas) if storing `value_size`
  // bytes under `key` by `call` ("KvSet", "KvAdd") would exceed a limit.
  absl::Status CheckKvQuotaLocked(std::string_view call, std::string_view key,
                                  size_t value_size) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores `value` under `key` and keeps kv_bytes_ in step.
  void PutKvLocked(std::string key, std::string value) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  struct BarrierState {
    // Bumped on every release, so a waiter knows its round completed even if the next round
    // already started.
    int64_t generation = 0;
    std::set<int> arrived;
  };

  const CoordinatorOptions options_;
  const absl::Time rendezvous_deadline_;
  const absl::Duration failure_timeout_;

  mutable absl::Mutex mu_;
  mutable absl::CondVar cv_;
  std::vector<std::optional<std::string>> addresses_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> last_seen_ ABSL_GUARDED_BY(mu_);
  std::map<int, DeadRank> dead_ ABSL_GUARDED_BY(mu_);
  bool rendezvous_complete_ ABSL_GUARDED_BY(mu_) = false;
  int64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, BarrierState> barriers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> kv_ ABSL_GUARDED_BY(mu_);
  // Sum of the sizes of kv_'s keys and values.
  int64_t kv_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Writes of transient keys (options_.transient_key_lifetime) in time order, and each such key's
  // last write: an entry expires the key only if no later write renewed it.
  std::deque<std::pair<absl::Time, std::string>> transient_writes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> transient_last_write_ ABSL_GUARDED_BY(mu_);
  // Elastic rejoin (rank_admission.cc): each rank's current incarnation (absent: 0), the ranks
  // admitted again, and the new processes waiting to be admitted (rank -> data address).
  std::map<int, int64_t> incarnations_ ABSL_GUARDED_BY(mu_);
  std::map<int, AdmittedRank> admitted_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::string> joining_ ABSL_GUARDED_BY(mu_);
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::string shutdown_reason_ ABSL_GUARDED_BY(mu_);
  bool stop_detector_ ABSL_GUARDED_BY(mu_) = false;
  bool job_ended_ ABSL_GUARDED_BY(mu_) = false;
  // Until when ranks' views may replace this coordinator's (AdoptRankViewLocked): a while after a
  // state file was reloaded or the first rank restored the job; InfinitePast otherwise.
  absl::Time adopt_views_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::thread detector_;
  // Declared last: destroyed first, while the state it snapshots is whole.
  std::unique_ptr<SnapshotWriter> writer_;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_COORDINATOR_STATE_H_
