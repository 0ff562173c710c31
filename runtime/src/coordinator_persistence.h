// Coordinator persistence: the small state file a coordinator writes after every change and
// reloads when it restarts (CoordinatorOptions::state_file), so that a coordinator that dies and
// comes back on the same address with the same token resumes the job where it was: the same
// membership epoch (never a lower one), the same registered ranks and the same key-value store.
//
// The file is a serialized proto::CoordinatorSnapshot, written atomically (a temporary file in the
// same folder, fsync, rename) so a crash mid-write leaves the previous file whole. Loading treats
// the file as untrusted input: its size is bounded before it is read and every field is checked
// (format, job, world size, membership, addresses, the key-value quotas), so a corrupt or hostile
// file is a clear kDataLoss / kInvalidArgument naming the file, never a crash or an unbounded
// allocation. Membership views that ranks send (HeartbeatRequest::known_membership) pass the same
// membership check.
#ifndef CROSSLINK_RUNTIME_SRC_COORDINATOR_PERSISTENCE_H_
#define CROSSLINK_RUNTIME_SRC_COORDINATOR_PERSISTENCE_H_

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "crosslink/runtime/coordinator_server.h"
#include "crosslink/runtime/membership.h"

namespace crosslink::runtime {

// What a coordinator keeps across a restart.
struct CoordinatorSnapshot {
  bool rendezvous_complete = false;
  Membership membership;
  // data_addresses[r]: rank r's data address, empty when it never registered. world_size entries.
  std::vector<std::string> data_addresses;
  std::vector<std::pair<std::string, std::string>> kv;
  // Barrier name -> generation of its last released round.
  std::vector<std::pair<std::string, int64_t>> barriers;
};

// The longest data address and death reason a snapshot or a rank's view may hold.
inline constexpr size_t kMaxAddressBytes = 512;
inline constexpr size_t kMaxReasonBytes = 4096;

// OK when `m` is a view a job of `world_size` ranks can have: epoch >= 0, every rank in range
// exactly once among alive and dead, deaths at epochs 1..epoch, reasons of bounded length.
// kInvalidArgument naming `what` otherwise.
absl::Status ValidateMembership(const Membership& m, int world_size, const std::string& what);

// Writes `snapshot` of the job of `options` to options.state_file atomically (mode 0600: the key-
// value store may hold addresses and NCCL ids). kInternal naming the file when a write fails.
absl::Status WriteSnapshotFile(const CoordinatorOptions& options,
                               const CoordinatorSnapshot& snapshot);

// Reads options.state_file: nullopt when it does not exist (a first start), the snapshot when it
// is valid for the job of `options` (same job id, token and world size), else kDataLoss (not a
// snapshot, truncated, oversized) or kInvalidArgument (another job's, or values out of bounds),
// naming the file. First removes the temporary files of writers that died in mid-write.
absl::StatusOr<std::optional<CoordinatorSnapshot>> ReadSnapshotFile(
    const CoordinatorOptions& options);

// Writes snapshots on a thread of its own, so that RPC handlers never wait for the disk: Notify()
// after a change, and the thread takes a snapshot (via `take`, which locks the state) and writes
// it; changes that come while a write runs are coalesced into the next one. Flush() writes any
// pending change before returning (a coordinator that stops leaves its newest state behind). A
// failed write is retried on the next change and kept for last_error().
class SnapshotWriter {
 public:
  SnapshotWriter(CoordinatorOptions options, std::function<CoordinatorSnapshot()> take);
  ~SnapshotWriter();  // Flushes, then joins the thread.
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  void Notify();
  void Flush();
  absl::Status last_error() const;

 private:
  void Loop();

  const CoordinatorOptions options_;
  const std::function<CoordinatorSnapshot()> take_;
  mutable absl::Mutex mu_;
  uint64_t requested_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_COORDINATOR_PERSISTENCE_H_
