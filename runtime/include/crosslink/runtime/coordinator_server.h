// CoordinatorServer: the gRPC job coordinator of one Crosslink job. Ranks register with it to learn
// the world (every rank's data address, the job id, the scenario text), send heartbeats, meet at
// named barriers and share small values through a key-value store. It detects dead ranks (missed
// heartbeats, or a failure report from the launcher) and bumps the membership epoch for each, so
// blocked barriers fail with ABORTED naming the dead rank instead of hanging.
//
// Security: every RPC must carry the job token given in the options; a wrong one is refused with
// UNAUTHENTICATED (the message never echoes a token). The server binds 127.0.0.1 unless told
// otherwise, because a coordinator on a public interface with a guessable token is an open door.
//
// Thread-safety: all methods are thread-safe. Ownership: the caller owns the server; destroying it
// stops it (blocked RPCs return UNAVAILABLE first).
//
// Status codes of the RPCs: UNAUTHENTICATED (bad token), PERMISSION_DENIED (a failure report
// about another rank without the launcher's credential), INVALID_ARGUMENT (rank out of range, world
// size disagrees, non-integer counter), DEADLINE_EXCEEDED (the caller's deadline or the rendezvous
// deadline passed), ABORTED (membership changed, or the caller itself was declared dead),
// FAILED_PRECONDITION (barrier before rendezvous), UNAVAILABLE (the job was shut down).
#ifndef CROSSLINK_RUNTIME_COORDINATOR_SERVER_H_
#define CROSSLINK_RUNTIME_COORDINATOR_SERVER_H_

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/runtime/membership.h"

namespace crosslink::runtime {

struct CoordinatorOptions {
  int world_size = 0;
  // The shared secret every request must carry. Must not be empty.
  std::string job_token;
  std::string job_id;
  // Served verbatim to every rank by Register.
  std::string scenario_text;
  // Interface to bind; 127.0.0.1 keeps the coordinator off the network. Use "0.0.0.0" (or a
  // specific address) for multi-node jobs.
  std::string bind_address = "127.0.0.1";
  // 0 binds an ephemeral port; port() reports the one bound.
  int port = 0;
  // A rank that has not sent a heartbeat (or any Register/Barrier call) for
  // heartbeat_interval * heartbeat_miss_count after rendezvous is declared dead. The defaults
  // (1 s, 3 misses) tolerate a stalled rank for 3 s yet catch a dead one well within a typical
  // collective timeout. InfiniteDuration() switches detection off.
  absl::Duration heartbeat_interval = absl::Seconds(1);
  int heartbeat_miss_count = 3;
  // Registration closes this long after Start(): blocked Register calls and later ones fail with
  // DEADLINE_EXCEEDED naming the ranks that never came.
  absl::Duration rendezvous_timeout = absl::InfiniteDuration();
  // The runtime's own per-collective keys ("crosslink/contact_aware/...", "crosslink/partial/...",
  // one or a few per collective; "crosslink/commit/...", one per rank and elastic step) are dropped
  // this long after their last write, so a job of millions of collectives does not grow the store
  // without bound. Every rank reads them within its collective's deadline (5 minutes by default),
  // so the default leaves a wide margin. Other keys stay until the job ends.
  absl::Duration transient_key_lifetime = absl::Minutes(30);
  // Key-value store quotas, so that a token holder cannot grow the coordinator's memory without
  // bound. A KvSet or KvAdd that would exceed one fails and leaves the store unchanged:
  // INVALID_ARGUMENT for a key longer than max_kv_key_bytes or a value longer than
  // max_kv_value_bytes, RESOURCE_EXHAUSTED when a new key would exceed max_kv_keys or the write
  // would take the store's total (keys plus values) past max_kv_total_bytes. The message names the
  // limit and the (truncated) key. The runtime's own keys are under 100 bytes ("crosslink/partial/
  // <collective>/state/<rank>/<version>") and its values under 100 bytes (times, counters, bit
  // masks, commit votes, NCCL ids, "host:port token"), so the defaults leave three or more orders
  // of magnitude of margin while bounding the store to a few hundred MiB.
  int64_t max_kv_key_bytes = 1024;
  int64_t max_kv_value_bytes = 1 << 20;
  int64_t max_kv_keys = 1'000'000;
  int64_t max_kv_total_bytes = int64_t{256} << 20;
  // Persistence (coordinator_persistence.h): when set, the coordinator writes its state (epoch,
  // membership, registered addresses, key-value store) to this file atomically after every change
  // and, on Start, reloads it if it exists, so that a coordinator restarted on the same address
  // with the same token resumes the job at the same epoch. Start fails with kDataLoss or
  // kInvalidArgument naming the file when it is corrupt or another job's. Without a state file a
  // restarted coordinator still restores the membership from the ranks' heartbeats (they report
  // the newest view they hold), but not the key-value store.
  std::filesystem::path state_file;
  // The launcher's credential for reporting other ranks dead over the ReportFailure RPC. A rank
  // may only report itself; a report about another rank must carry this token (and reporter -1),
  // else it is refused with PERMISSION_DENIED. Empty: no remote launcher may report others (the
  // in-process ReportFailure below needs none). Never hand it to ranks.
  std::string launcher_token;
  // TLS: PEM files of the server's certificate chain and private key (CROSSLINK_TLS_CERT and
  // CROSSLINK_TLS_KEY for crosslink-run and an embedded coordinator). When set, the coordinator
  // serves TLS only, so the job token never travels in clear; clients then need the CA
  // (CoordinatorClientOptions::tls_ca_file). Both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class CoordinatorServer {
 public:
  // Binds and starts serving. INVALID_ARGUMENT for bad options, UNAVAILABLE when the address cannot
  // be bound.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(CoordinatorOptions options);

  ~CoordinatorServer();
  CoordinatorServer(const CoordinatorServer&) = delete;
  CoordinatorServer& operator=(const CoordinatorServer&) = delete;

  // The port actually bound (the ephemeral one when options.port was 0).
  int port() const;
  // "host:port" a client on this machine can dial (127.0.0.1 when bound to 0.0.0.0).
  std::string address() const;

  // The current membership view (epoch 0 until rendezvous completes).
  Membership membership() const;

  // Declares `rank` dead with `reason` (in-process form of the ReportFailure RPC, used by the
  // launcher). A rank already dead keeps its first reason. INVALID_ARGUMENT for a bad rank.
  absl::Status ReportFailure(int rank, std::string reason);

  // Blocks until a Shutdown RPC arrives or `deadline` passes; true when one arrived.
  bool WaitForShutdownRequest(absl::Time deadline) const;

  // Wakes every blocked call with UNAVAILABLE and stops serving. Idempotent; blocks until the gRPC
  // server has stopped (at most about a second for in-flight calls).
  void Stop();

  class Impl;

 private:
  explicit CoordinatorServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_COORDINATOR_SERVER_H_
