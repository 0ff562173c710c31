// Communicator: the object a training program holds to run collectives with the other ranks of
// its job. Creating one joins the job through the coordinator (coordinator_client.h): it listens
// for data connections on a TCP port, registers, learns the world and the scenario, connects a full
// mesh of TCP connections, and, when the job has a scenario, wraps every connection in a
// LinkEmulator that plays the scenario's true contact plan (geometry and faults) in wall time, so
// that the collectives meet the latency, rate and outages of the crosslinks between the ranks'
// satellites. Then it runs collectives on host (and, with crosslink::cuda, device) buffers: each
// becomes one collectives::CollectiveSpec, whose open choices one rank (rank 0, or the lowest live
// rank once an elastic job has lost ranks) settles for every rank when they depend on what only
// one rank can know (a contact-aware plan's orbit time, a partial result's participants), and takes
// collectives' one execution path (run_collective.h) over the communicator's CollectiveContext, the
// mesh.
//
// Scenarios: ranks map to satellites through the scenario's [cluster] satellites (rank i ->
// element i); orbit time runs at [time] time_scale orbit seconds per wall second from a wall
// instant that rank 0 publishes in the coordinator's key-value store, so every rank's emulators
// agree on when an outage happens. Without a scenario (or with "ideal") connections are plain TCP.
//
// Collective contract (every collective method):
// - Collective: every rank of the job must call the same methods in the same order with the same
//   count, type, op and root. Ranks that disagree fail with kInvalidArgument naming the ranks.
// - Blocking: returns when this rank's part is done, or fails at the latest at the deadline
//   (min(options.deadline, now + options.timeout)) with kDeadlineExceeded naming the rank waited
//   for. It never hangs on a dead peer or a cut link.
// - Errors name this rank, the collective's sequence number and the rank or link at fault:
//   kAborted (a rank died: the coordinator's membership changed; connections to it are closed at
//   once so waits end), kUnavailable (a connection or emulated link failed; the message carries
//   the link's description), kDeadlineExceeded, kInvalidArgument (disagreement or bad arguments
//   here), kDataLoss (a CRC32C mismatch). After any of these the mesh is out of step: every later
//   collective fails at once with kFailedPrecondition carrying the first error. Recovery is a new
//   job (or a new Communicator in a new job). The exceptions are a partial allreduce's own
//   outcomes (CollectiveOptions::min_participants: left out, too few reachable), which run nothing
//   and leave the mesh in step.
// - Buffers are borrowed for the call; on failure their contents are unspecified.
// - Elastic mode (CommunicatorOptions::elastic, CROSSLINK_ELASTIC=1; crosslink-run --min-ranks
//   keeps the survivors running): a rank's death does not end the communicator. The collective
//   that meets it fails once with kAborted naming the dead rank (on some survivors it may have
//   finished: see the training-loop pattern below), and does not break the communicator. Before
//   the next collective (whenever the coordinator's membership epoch differs from the one the
//   mesh was built for, a death seen while idle included) every live rank rebuilds the mesh among
//   the live ranks (a coordinator barrier for the epoch, then the lower rank of each pair dials),
//   and the collectives run over the live ranks only: kAvg divides by the live count, the
//   contact-aware and partial agreements are decided by the lowest live rank instead of rank 0,
//   and a partial allreduce's "every rank" means every live rank. A rebuild that meets another
//   death fails with kAborted (the next call retries); only failures that no death explains
//   (a cut link without resume, a disagreement, kDataLoss, a rebuild that cannot connect) break
//   the communicator with kFailedPrecondition as above. Allgather, ReduceScatter and
//   Alltoall, whose layouts are by rank, fail with kFailedPrecondition once a rank has died; a
//   Broadcast whose root died fails with kInvalidArgument. "Every rank" in the contract above means
//   every live rank: after a failed collective the survivors may go on having issued different
//   numbers of collectives in that step (the rebuild realigns them), but from the next Quorum on
//   they must call the same methods in the same order again. Without elastic, nothing of this
//   applies.
// - Rejoining (elastic mode): a dead rank comes back as a new process with the same rank
//   (CommunicatorOptions::rejoin; crosslink-run --max-restarts). Its Create waits until the live
//   ranks reach their next Quorum, which admits it in a new membership epoch (the live ranks'
//   Quorum returns kAborted once; their retry meets the newcomer), then the mesh is rebuilt with
//   it and Quorum reports state_sync_due: every live rank calls SyncState, which gives the
//   newcomer the training state of a healthy peer and checks every rank's state hash. A process
//   that was declared dead and then continues (SIGSTOP, SIGCONT) after its rank was admitted
//   again is refused by the coordinator (kAborted: a stale incarnation).
//
// The elastic training loop (TorchFT's pattern), which keeps every survivor's state identical even
// when a rank dies mid-collective and the collective succeeded on some survivors only:
//   for (step...) {
//     auto quorum = comm.Quorum(deadline);          // retry on kAborted
//     if (quorum->state_sync_due) comm.SyncState(state_buffers, deadline);  // kAborted: Quorum
//     absl::Status status = comm.Allreduce(grads, ..., kAvg);
//     absl::StatusOr<bool> commit = comm.ShouldCommit(status.ok(), deadline);
//     if (commit.ok() && *commit) optimizer.Step();  // else drop the step, every survivor alike
//   }
//
// Thread-safety: one collective at a time per communicator. Calls from several threads are
// serialised by a mutex, but their order would then differ between ranks, so a program must issue
// collectives from one thread (or order them itself). The accessors are thread-safe. The
// membership callback runs on the coordinator client's heartbeat thread.
#ifndef CROSSLINK_RUNTIME_COMMUNICATOR_H_
#define CROSSLINK_RUNTIME_COMMUNICATOR_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "crosslink/collectives/collective_options.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/emulation/link_emulator.h"
#include "crosslink/collectives/emulation/scenario_clock.h"
#include "crosslink/collectives/plan.h"
#include "crosslink/linkmodel/contact_plan.h"
#include "crosslink/linkmodel/scenario.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/coordinator_server.h"
#include "crosslink/runtime/membership.h"

namespace crosslink::runtime {

// How the data connections between ranks of one host travel (ranks on other hosts always use
// TCP): shared memory (collectives/transport/shm_transport.h) or loopback TCP.
enum class DataTransport {
  kAuto,  // shared memory for ideal jobs, TCP when a LinkEmulator plays a scenario
  kTcp,   // never shared memory
  kShm,   // shared memory whenever the peer is on this host, emulated jobs included
};

struct CommunicatorOptions {
  int rank = 0;
  int world_size = 1;
  // "host:port" of the job coordinator and the job's token (MASTER_ADDR:MASTER_PORT and
  // CROSSLINK_JOB_TOKEN under crosslink-run).
  std::string coordinator_address;
  std::string job_token;
  // Interface the data connections listen on (an ephemeral port); 127.0.0.1 for one machine.
  std::string listen_host = "127.0.0.1";
  // The scenario file the job runs, for paths inside it (a TLE file is resolved against its
  // folder); its text always comes from the coordinator, so every rank plays the same scenario.
  std::filesystem::path scenario_path;
  // What an emulated outage does to a message. kCut (the default): the connection breaks, as
  // when a laser terminal reports loss of lock; with `resume` the link is re-established at once
  // over a detour through relay satellites (or directly when the link returns) and the collective
  // is only delayed; without `resume` the collective fails with kUnavailable naming the link and
  // the orbit time. kHold: the message waits for the link to return, as a TCP connection over a
  // dead link would (what NCCL or Gloo get; crosslink-bench's naive-ring baseline uses it).
  collectives::OutageMode outage_mode = collectives::OutageMode::kCut;
  // With kCut: a cut link resumes instead of failing the collective (the transfer continues from
  // the last acknowledged message once the link returns or a detour through relay satellites is
  // up; runtime/src/communicator_reconnect.h). CROSSLINK_RESUME=0 in the environment disables it.
  bool resume = true;
  // Ignore the job's scenario and run on plain TCP (the `ideal` case of crosslink-bench).
  bool ideal = false;
  // The links are real kernel links whose rate and outages something else applies
  // (`crosslink-run --netns`, which sets CROSSLINK_NETNS=1): the emulators play only the
  // scenario's latency (the kernel has no netem), and the kernel reroutes around a link that is
  // down (collectives/emulation/latency_only_timeline.h).
  bool kernel_links = false;
  // A data connection whose peer stops acknowledging fails after about this long (whole seconds,
  // at least 2; TcpOptions::dead_link_timeout), and a resumable link then redials it.
  // CROSSLINK_DEAD_LINK_TIMEOUT_S in the environment sets it (`crosslink-run --netns` gives its
  // ranks 5 s, so a kernel link that returns is used again within seconds).
  absl::Duration dead_link_timeout = absl::Seconds(30);
  // Joining (register, mesh, plans, clock) must finish within this time (kDeadlineExceeded).
  absl::Duration setup_timeout = absl::Seconds(120);
  // Orbit time at the job's clock start (seconds since the scenario epoch), and orbit seconds per
  // wall second (0: the scenario's [time] time_scale). Every rank must pass the same values:
  // benchmarks use them to start at an outage and to cover an orbit in minutes of wall time.
  double orbit_start_s = 0;
  double time_scale = 0;
  // Rank 0 hosts the job's coordinator itself, listening on coordinator_address's port, for jobs
  // that no crosslink-run started (Slurm, Kubernetes, mpirun): it serves world_size, job_token and
  // the text of scenario_path (embedded_coordinator.h). The interface is coordinator_bind_address,
  // or coordinator_address's host when empty ("0.0.0.0" listens on every interface). The
  // coordinator lives as long as rank 0's communicator: the other ranks lose their heartbeats
  // (not their data connections) once rank 0 destroys it. Ignored on the other ranks.
  bool host_coordinator = false;
  std::string coordinator_bind_address;
  // Same-host data connections (CROSSLINK_TRANSPORT=auto|tcp|shm in CreateFromEnvironment).
  // Ranks may differ: a connection uses shared memory only when both ends agree.
  DataTransport transport = DataTransport::kAuto;
  // Survive the death of other ranks (see "Elastic mode" above; CROSSLINK_ELASTIC=1 in
  // CreateFromEnvironment). Every rank of a job must pass the same value.
  bool elastic = false;
  // Elastic mode: this process restarts a rank that died (crosslink-run --max-restarts sets
  // CROSSLINK_RESTART_COUNT > 0, which CreateFromEnvironment reads). Create then rejoins instead of
  // registering: it waits (at most setup_timeout) until the live ranks admit it at their next
  // Quorum, and builds no mesh itself; the program's first Quorum does, and the first SyncState
  // gives it the live ranks' state (see "Rejoining" above). Needs `elastic`.
  bool rejoin = false;
  // How long the job coordinator may stay unreachable (CROSSLINK_COORDINATOR_TIMEOUT, seconds, in
  // CreateFromEnvironment). Within it, coordinator calls wait for a coordinator that restarts on
  // the same address and retry, and the heartbeats carry on, so the job continues at the same
  // membership epoch (README "Coordinator restarts"). Past it the communicator fails: the
  // collective in flight and every later one fail with kUnavailable saying the coordinator was
  // lost (without a coordinator no death can be detected, so waiting would only hang).
  absl::Duration coordinator_timeout = absl::Seconds(30);
  // TLS to the coordinator: the PEM CA file that signed its certificate (CROSSLINK_TLS_CA).
  // Rank 0's embedded coordinator serves TLS with CROSSLINK_TLS_CERT / CROSSLINK_TLS_KEY
  // (coordinator_tls_cert_file / _key_file).
  std::string coordinator_tls_ca_file;
  std::string coordinator_tls_cert_file;
  std::string coordinator_tls_key_file;
  // TLS on every TCP data connection too (CROSSLINK_DATA_TLS=1): TLS 1.3, each rank presenting
  // coordinator_tls_cert_file / _key_file and verifying its peers' certificates against
  // coordinator_tls_ca_file (one PKI per job: the certificate must name the coordinator's host
  // where this rank serves the coordinator, and allow both TLS roles). The data handshake still
  // proves the job token and binds the rank. Shared memory between ranks of one host stays
  // allowed (its bytes never leave the host). Every rank of a job must agree. Create fails with
  // kInvalidArgument naming the variables when a file is not set, and with the TLS errors of
  // tcp_transport.h for an unusable file.
  bool data_tls = false;
  // Rank 0's embedded coordinator persists its state here and reloads it when restarted
  // (CoordinatorOptions::state_file; CROSSLINK_COORDINATOR_STATE). Empty: no state file.
  std::string coordinator_state_file;
};

// Reads the environment's tuning variables into `options`, as CreateFromEnvironment does:
// CROSSLINK_LISTEN_HOST, CROSSLINK_TRANSPORT, CROSSLINK_ELASTIC, CROSSLINK_OUTAGE_MODE,
// CROSSLINK_ORBIT_START_S, CROSSLINK_TIME_SCALE. For programs that learn rank, world size and the
// coordinator elsewhere (the Python backend gets them from torch's store). kInvalidArgument naming
// the variable with a bad value.
absl::Status ApplyEnvironmentTuning(CommunicatorOptions& options);

// A membership every live rank agreed on (Communicator::Quorum).
struct Quorum {
  int64_t epoch = 0;
  std::vector<int> live_ranks;  // ascending
  // The membership changed since this rank's previous successful Quorum (a death or an
  // admission; always true on a rejoined rank's first): the same on every live rank. The program
  // must then call SyncState before the step's collectives.
  bool state_sync_due = false;
  // Ranks admitted again (restarted processes) that are alive in this epoch, ascending.
  std::vector<int> rejoined_ranks;
};

// One piece of a rank's training state for SyncState: `bytes` bytes at `data` (host memory),
// borrowed for the call. `name` appears in error messages.
struct StateBuffer {
  std::string name;
  void* data = nullptr;
  size_t bytes = 0;
};

struct StateSyncOptions {
  // Bytes per data-plane message of the transfer: a cut loses at most one chunk's progress.
  size_t chunk_bytes = size_t{1} << 20;
  // Called on the calling thread after each chunk this rank sent (as the source, over every
  // receiver) or received, with the bytes so far: progress for logs. May be empty.
  std::function<void(int64_t bytes)> progress;
};

// What a SyncState did (the same on every participating rank, except the byte counts).
struct StateSyncReport {
  int source = -1;             // the rank whose state the receivers took
  std::vector<int> receivers;  // ranks that had no state and received it
  int64_t bytes_received = 0;  // by this rank in this call
  int64_t resumed_from = 0;    // bytes this rank already held from an earlier, cut transfer
  uint64_t state_hash = 0;     // every live rank's, checked equal
};

// What a caller may choose per collective: timeout and deadline, algorithm, contact_aware,
// compression and error feedback, min_participants (a partial result), device staging. The one
// struct of collectives/collective_options.h, which says what each field means.
using CollectiveOptions = collectives::CollectiveOptions;

// What the last collective met, for benchmarks and logs.
struct CollectiveStats {
  uint64_t sequence = 0;
  std::string algorithm;      // "ring_allreduce", ...
  int64_t outages_met = 0;    // outages that held or cut a message of this rank's links
  int64_t chunks_resent = 0;  // messages sent again after a link broke mid-collective
  // Ranks whose data the result holds (contributors[r] for rank r; identical on every
  // participant) and how many they are; every rank for a complete collective.
  std::vector<bool> contributors;
  int participants = 0;
  absl::Duration elapsed = absl::ZeroDuration();
};

class Communicator {
 public:
  // Joins the job. Blocks until every rank has joined and the mesh is connected, or
  // options.setup_timeout passes. Errors: kInvalidArgument (bad options, a scenario without a
  // [cluster] satellite for some rank), kUnauthenticated (wrong token), kDeadlineExceeded (a rank
  // never came), kUnavailable (a peer cannot be reached), and the scenario loader's codes.
  static absl::StatusOr<std::unique_ptr<Communicator>> Create(CommunicatorOptions options);

  // Create() with options read from the launcher's environment (launch_env.h: RANK, WORLD_SIZE,
  // MASTER_ADDR, MASTER_PORT, CROSSLINK_JOB_TOKEN, CROSSLINK_SCENARIO), plus
  // CROSSLINK_OUTAGE_MODE=cut|hold (default cut), CROSSLINK_RESUME=0 (resume = false),
  // CROSSLINK_LISTEN_HOST (default 127.0.0.1),
  // CROSSLINK_COORDINATOR=embedded|external|auto (host_coordinator: "embedded" makes rank 0 host
  // the coordinator on MASTER_ADDR:MASTER_PORT, "external" expects one running there, as
  // crosslink-run's; "auto", the default, embeds under Slurm and Open MPI, which run none) and
  // CROSSLINK_COORDINATOR_BIND (coordinator_bind_address) and CROSSLINK_ELASTIC=1 (elastic),
  // CROSSLINK_COORDINATOR_TIMEOUT (seconds, coordinator_timeout), CROSSLINK_COORDINATOR_STATE
  // (coordinator_state_file), CROSSLINK_TLS_CA / CROSSLINK_TLS_CERT / CROSSLINK_TLS_KEY (TLS).
  static absl::StatusOr<std::unique_ptr<Communicator>> CreateFromEnvironment(
      absl::Duration timeout);

  // Stops heartbeats and closes every connection (peers in a collective then fail with
  // kUnavailable). Does not wait for peers.
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  const std::string& job_id() const { return job_id_; }

  // In place: afterwards every rank's `data` (count elements of `type`) holds `op` over every
  // rank's data (or over the contributors' with options.min_participants), bit-identical on every
  // rank. A host or (with crosslink::cuda) a device buffer.
  absl::Status Allreduce(void* data, size_t count, collectives::DataType type,
                         collectives::ReduceOp op, const CollectiveOptions& options = {});
  // In place: afterwards rank r's block BlockRange(count, world_size, r) (plan.h: the first
  // count % n blocks hold one element more) of `data` holds the reduction; the rest is scratch.
  absl::Status ReduceScatter(void* data, size_t count, collectives::DataType type,
                             collectives::ReduceOp op, const CollectiveOptions& options = {});
  // Every rank contributes count_per_rank elements from `input`; afterwards `output`
  // (count_per_rank * world_size elements) holds rank 0's, then rank 1's, ... `input` may point
  // at this rank's block of `output`.
  absl::Status Allgather(const void* input, void* output, size_t count_per_rank,
                         collectives::DataType type, const CollectiveOptions& options = {});
  // Every rank sends block j of `input` to rank j: with even splits `input` and `output` hold
  // count_per_rank * world_size elements, and afterwards output block j (count_per_rank
  // elements) holds rank j's input block for this rank. `input` is only read and must not
  // overlap `output` (kInvalidArgument). Any type; options.compression, algorithm and
  // contact_aware are ignored (nothing is reduced; one plan, the pairwise exchange). Host
  // buffers only (kInvalidArgument for device memory: TensorCollectives stages CUDA tensors).
  absl::Status Alltoall(const void* input, void* output, size_t count_per_rank,
                        collectives::DataType type, const CollectiveOptions& options = {});
  // Uneven splits (torch's all_to_all_single with split sizes), world_size entries each:
  // send_counts[j] elements of `input` (in rank order) go to rank j, recv_counts[j] elements from
  // rank j land in `output` (in rank order). Rank a's send_counts[b] must equal rank b's
  // recv_counts[a]; a disagreement fails with kInvalidArgument naming both ranks on the ranks
  // that see it (the others fail with it or kAborted), within the deadline, never a hang; it
  // breaks the communicator like every disagreement.
  absl::Status Alltoall(const void* input, absl::Span<const size_t> send_counts, void* output,
                        absl::Span<const size_t> recv_counts, collectives::DataType type,
                        const CollectiveOptions& options = {});
  // Afterwards every rank's `data` holds root's.
  absl::Status Broadcast(void* data, size_t count, collectives::DataType type, int root,
                         const CollectiveOptions& options = {});
  // Returns once every rank has entered.
  absl::Status Barrier(const CollectiveOptions& options = {});

  // Elastic mode: the step-level quorum (TorchFT's start_quorum). Collective over the live ranks:
  // rebuilds the mesh for the coordinator's current membership epoch if needed, then passes a
  // coordinator barrier with every live rank; returns the epoch and live ranks, the same on every
  // live rank. Blocks until then, at the latest `deadline`. Errors: kAborted when the membership
  // changed meanwhile (call again: every live rank then agrees on the new epoch),
  // kDeadlineExceeded, kUnavailable (coordinator gone), kFailedPrecondition (not elastic, or the
  // communicator is broken). Without a death it returns epoch 1 and every rank.
  absl::StatusOr<runtime::Quorum> Quorum(absl::Time deadline);
  // Elastic mode: whether to commit the step (TorchFT's should_commit). Collective over the live
  // ranks, through the coordinator only (it works when data links are broken): true on every live
  // rank iff every live rank passed local_ok = true and the membership epoch did not change since
  // the last Quorum (or since the mesh was built, before any Quorum); false on every live rank
  // otherwise. Every live rank must call it once per step. Blocks until every live rank has
  // called it or `deadline` (kDeadlineExceeded); kUnavailable when the coordinator is gone;
  // kFailedPrecondition when not elastic.
  absl::StatusOr<bool> ShouldCommit(bool local_ok, absl::Time deadline);

  // Elastic mode: brings every live rank to the same training state and proves it (TorchFT's live
  // recovery). Collective over the live ranks, after a Quorum whose state_sync_due is set (before
  // any collective of the step). Every rank passes its state as the same list of buffers (same
  // count, order and sizes); ranks that hold no state yet (a rejoined process) receive it from the
  // lowest live rank that does, over the data plane, in chunks of options.chunk_bytes, into a
  // staging copy that replaces their buffers only once it is complete and its hash equals the
  // source's (so a cut transfer never leaves mixed state). A transfer cut by a death resumes at
  // the next call from the bytes already staged when the new source holds the same state.
  // Afterwards every live rank's state hash (FNV-1a over the buffers) is compared by an
  // allreduce. Blocks until then or `deadline`. Errors: kDataLoss naming the ranks whose state
  // differs; kInvalidArgument when this rank's buffers' layout differs from the source's (this
  // rank's buffers are untouched and it must leave; the others go on without it) or when the
  // ranks holding state disagree on the layout; kAborted when the membership moved (Quorum again,
  // then SyncState again); kDeadlineExceeded; kFailedPrecondition (not elastic, no Quorum in this
  // epoch, broken communicator).
  absl::StatusOr<StateSyncReport> SyncState(const std::vector<StateBuffer>& buffers,
                                            absl::Time deadline,
                                            const StateSyncOptions& options = {});
  // Whether this rank holds training state: true for a rank that joined with the job, false for a
  // rejoined process until a SyncState succeeded.
  bool has_state() const;

  // The stats of the last collective this communicator ran (successful or not).
  CollectiveStats last_stats() const;
  // Outages met so far by this rank's emulated links (0 without a scenario).
  int64_t outages_met() const;
  // How this rank's data connections travel, e.g. "shm to 3 ranks" or "shm to 2 ranks, tcp to 1
  // rank"; fixed after Create.
  const std::string& transport_summary() const;

  // The newest membership view this rank knows: the heartbeats', or a newer one another
  // coordinator call of this rank brought back. Epochs never go backwards.
  Membership membership() const;
  // The coordinator client, for a program's own key-value use (keys under "crosslink/" are
  // reserved). Valid while the communicator lives.
  CoordinatorClient& coordinator() { return *client_; }

  // The scenario this job plays, or nullptr for an ideal (plain TCP) job.
  const linkmodel::Scenario* scenario() const { return scenario_ ? &*scenario_ : nullptr; }
  // The true contact plan the emulators apply (nullptr when ideal), each rank's satellite index
  // in it, and the clock mapping wall time to orbit time (nullptr when ideal).
  std::shared_ptr<const linkmodel::ContactPlan> true_plan() const { return true_plan_; }
  const std::vector<int>& rank_satellites() const { return rank_satellites_; }
  std::shared_ptr<const collectives::ScenarioClock> clock() const { return clock_; }
  // The predicted contact plan (geometry only, no faults) the contact-aware planner reads, or
  // nullptr when ideal.
  std::shared_ptr<const linkmodel::ContactPlan> predicted_plan() const;

  class Impl;

 private:
  Communicator();

  // Shared by the collectives: makes the spec, settles its choices with the other ranks, runs it
  // (collectives' RunCollective) and maps failures to the contract above.
  // send_counts and recv_counts: an uneven alltoall's splits (collective_spec.h).
  absl::Status Run(collectives::CollectiveKind kind, size_t count, collectives::DataType type,
                   collectives::ReduceOp op, int root, void* data, const void* input,
                   const CollectiveOptions& options, absl::Span<const size_t> send_counts = {},
                   absl::Span<const size_t> recv_counts = {});
  void OnMembershipChange(const Membership& membership);
  void OnHeartbeatError(const absl::Status& status);

  int rank_ = 0;
  int world_size_ = 1;
  std::string job_id_;
  uint64_t transport_job_id_ = 0;
  // Rank 0's coordinator when options.host_coordinator; declared before client_ so that it is
  // destroyed after the client that talks to it.
  std::unique_ptr<CoordinatorServer> embedded_coordinator_;
  std::unique_ptr<CoordinatorClient> client_;
  std::optional<linkmodel::Scenario> scenario_;
  std::shared_ptr<const linkmodel::ContactPlan> true_plan_;
  std::vector<int> rank_satellites_;
  std::shared_ptr<const collectives::ScenarioClock> clock_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_COMMUNICATOR_H_
