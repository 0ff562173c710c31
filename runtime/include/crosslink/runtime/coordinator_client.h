// CoordinatorClient: one rank's (or the launcher's) connection to the job coordinator. One method
// per RPC of runtime/proto/coordinator.proto, each taking an absl::Time deadline and returning
// absl::Status / absl::StatusOr; plus a background heartbeat thread that reports membership
// changes, so a communicator can abort its collectives the moment a peer is declared dead.
//
// Blocking: every RPC blocks until it answers or its deadline passes; Register, Barrier and KvGet
// are long polls. Register waits for the coordinator to come up (a rank may start before the rank
// that hosts the coordinator); the other calls fail fast with kUnavailable when it is unreachable.
//
// Status codes, as the coordinator's gRPC codes map: kUnauthenticated (wrong job token),
// kDeadlineExceeded (deadline passed; Register: rendezvous incomplete), kUnavailable (coordinator
// unreachable or the job shut down), kAborted (membership changed during a barrier, a rank died
// before rendezvous completed, or this rank was declared dead), kInvalidArgument (rank out of
// range, world size disagrees, a second Register with another data address, KvAdd on a value that
// is no integer, a key or value over the coordinator's length quota), kResourceExhausted (the
// coordinator's key-value store is at its key-count or byte quota), kPermissionDenied (a
// ReportFailure about another rank from a rank, or from a launcher without the launcher's
// credential), kFailedPrecondition (barrier
// before rendezvous; or the coordinator answered a membership epoch lower than one this client
// already saw: it restarted, losing the deaths it had recorded, or another job's coordinator
// answered; the client keeps the higher epoch's view and never adopts the lower one). Messages name
// the call, the rank and the coordinator address.
//
// Thread-safety: all methods are thread-safe; RPCs may run concurrently from several threads.
// Callbacks run on the heartbeat thread and must not call StopHeartbeats() (they may call RPCs).
#ifndef CROSSLINK_RUNTIME_COORDINATOR_CLIENT_H_
#define CROSSLINK_RUNTIME_COORDINATOR_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/runtime/membership.h"

namespace crosslink::runtime {

struct CoordinatorClientOptions {
  // "host:port" of the coordinator (MASTER_ADDR:MASTER_PORT).
  std::string address;
  std::string job_token;
  // This process's rank, or -1 for a launcher or tool that is not a rank.
  int rank = -1;
  // TLS: the CA certificate(s) that signed the coordinator's certificate (the certificate itself
  // when self-signed), PEM; CROSSLINK_TLS_CA for a communicator. When set the channel is TLS
  // only, so the job token never travels in clear; Create fails (kNotFound / kInvalidArgument)
  // when the file cannot be read or holds no PEM.
  std::string tls_ca_file;
  // Riding out a coordinator restart: a call that finds the coordinator unreachable (kUnavailable
  // without the job having ended) waits for it to come back and retries, for at most this long
  // and never past its own deadline; a rank re-announces itself (a heartbeat carrying its view)
  // before the retry. KvAdd is never retried (not idempotent). Zero (the default): fail at once.
  absl::Duration retry_unavailable_for = absl::ZeroDuration();
  // For the launcher (rank -1) only: the launcher's credential (CoordinatorOptions::
  // launcher_token), which lets its ReportFailure name any rank. Ranks never have it.
  std::string launcher_token;
};

struct HeartbeatOptions {
  // Zero: the interval the coordinator announced in Register's world (1 s if Register was not
  // called).
  absl::Duration interval = absl::ZeroDuration();
  // Called with the new view each time the membership epoch changes (a rank died).
  std::function<void(const Membership&)> on_change;
  // Called with every error heartbeating meets that is not a passing miss; nothing is ignored:
  // - Final (the thread exits after the call): this rank was declared dead (kAborted), the token
  //   was refused (kUnauthenticated), the rank or its view is invalid (kInvalidArgument), or a
  //   Shutdown request ended the job (kUnavailable).
  // - Coordinator lost (kUnavailable, once per loss): no heartbeat was answered for
  //   coordinator_timeout. The thread keeps heartbeating, so a coordinator that restarts on the
  //   same address finds the rank again (each heartbeat carries this rank's newest view and data
  //   address; the restarted coordinator adopts the highest view, so the epoch never goes back).
  // - Epoch regression (kFailedPrecondition, once): the coordinator answered an epoch lower than
  //   one already seen and did not take this rank's view (another job's coordinator, or one that
  //   restarted long ago without its state); the view is not adopted, heartbeats go on.
  // Each heartbeat's deadline is one interval. The thread ends only after a final error or on
  // StopHeartbeats().
  std::function<void(const absl::Status&)> on_error;
  // How long the coordinator may stay unreachable before on_error reports it lost. Zero: 30 s.
  absl::Duration coordinator_timeout = absl::ZeroDuration();
};

class CoordinatorClient {
 public:
  // Creates the channel; does not connect yet. kInvalidArgument for an empty address or token,
  // kNotFound / kInvalidArgument for an unreadable or non-PEM tls_ca_file.
  static absl::StatusOr<std::unique_ptr<CoordinatorClient>> Create(
      CoordinatorClientOptions options);

  // Stops the heartbeat thread.
  ~CoordinatorClient();
  CoordinatorClient(const CoordinatorClient&) = delete;
  CoordinatorClient& operator=(const CoordinatorClient&) = delete;

  int rank() const;
  const std::string& address() const;

  // Registers this rank and blocks until every rank has (returns the world), or the deadline.
  absl::StatusOr<World> Register(int world_size, std::string_view data_address,
                                 absl::Time deadline);
  // Elastic rejoin (rank_admission.cc): a new process of this rank, which the coordinator declared
  // dead, asks to be admitted again, and blocks until a live rank admits it at its next step
  // boundary (Admit) or the deadline passes. Returns the world as it then is (this rank alive,
  // its new data address in it); later calls of this client carry the incarnation it was given.
  // Retries while the old process is not yet declared dead. Errors: kUnauthenticated,
  // kInvalidArgument (world size or rank disagree), kDeadlineExceeded (not admitted in time, or
  // the rank stayed alive), kUnavailable.
  absl::StatusOr<World> Rejoin(int world_size, std::string_view data_address, absl::Time deadline);
  // Admits the ranks waiting in Rejoin when the coordinator's epoch is still `epoch` (they become
  // alive in a new epoch); returns the view either way.
  absl::StatusOr<Membership> Admit(int64_t epoch, absl::Time deadline);
  // 0, or the incarnation Rejoin was given.
  int64_t incarnation() const;

  // Tells the coordinator this rank is alive; returns the membership view.
  absl::StatusOr<Membership> Heartbeat(absl::Time deadline);
  // Reports `failed_rank` dead with a reason a user can act on.
  absl::StatusOr<Membership> ReportFailure(int failed_rank, std::string_view reason,
                                           absl::Time deadline);
  // Blocks until every alive rank reached the barrier `name`. `epoch` != 0: fail with kAborted at
  // once when the membership is no longer that epoch (a communicator passes the epoch it was built
  // for); 0: only changes while waiting abort.
  absl::Status Barrier(std::string_view name, absl::Time deadline, int64_t epoch = 0);
  absl::Status KvSet(std::string_view key, std::string_view value, absl::Time deadline);
  // Blocks until `key` is set or the deadline passes.
  absl::StatusOr<std::string> KvGet(std::string_view key, absl::Time deadline);
  // Atomically adds `delta` to the integer counter `key` (absent = 0); returns the new value.
  absl::StatusOr<int64_t> KvAdd(std::string_view key, int64_t delta, absl::Time deadline);
  // Ends the job for everyone: blocked calls fail with kUnavailable.
  absl::Status Shutdown(std::string_view reason, absl::Time deadline);

  // Starts the heartbeat thread. kFailedPrecondition when it already runs or this client is not a
  // rank (rank -1).
  absl::Status StartHeartbeats(HeartbeatOptions options);
  // Stops and joins the heartbeat thread; returns at once when none runs.
  void StopHeartbeats();

  // The newest membership view any call of this client received (epoch 0 before Register).
  Membership last_membership() const;

  class Impl;

 private:
  explicit CoordinatorClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_COORDINATOR_CLIENT_H_
