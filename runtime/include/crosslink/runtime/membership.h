// The coordinator's view of who is in a job: plain data shared by the coordinator server, its
// client and the communicator that aborts collectives when a peer dies. No gRPC types here, so a
// user of the communicator does not compile protobuf headers.
#ifndef CROSSLINK_RUNTIME_MEMBERSHIP_H_
#define CROSSLINK_RUNTIME_MEMBERSHIP_H_

#include <cstdint>
#include <string>
#include <vector>

namespace crosslink::runtime {

// A rank the coordinator declared dead, and why ("rank 2 missed heartbeats for 3s",
// "rank 2 exited with status 9"). A dead rank comes back only as a new process that an elastic
// job admits again (AdmittedRank).
struct DeadRank {
  int rank = -1;
  std::string reason;
  // The membership epoch this death started.
  int64_t epoch = 0;

  friend bool operator==(const DeadRank&, const DeadRank&) = default;
};

// A rank that died and was admitted again: a new process with the same rank id (Rejoin), alive
// from membership epoch `epoch` on. incarnation counts its admissions (1 for the first restart).
struct AdmittedRank {
  int rank = -1;
  int64_t epoch = 0;
  int64_t incarnation = 0;
  std::string data_address;

  friend bool operator==(const AdmittedRank&, const AdmittedRank&) = default;
};

// Epoch 0 means "rendezvous not complete, nobody dead"; it becomes 1 when every rank has
// registered and goes up by one with every death (a clean exit reported by the launcher counts as
// one; a death before rendezvous aborts it) and every admission of restarted ranks, so equal epochs
// mean equal views. Ranks are sorted ascending.
struct Membership {
  int64_t epoch = 0;
  std::vector<int> alive_ranks;
  std::vector<DeadRank> dead_ranks;
  // Ranks admitted again while they live (ascending), and ranks waiting to be admitted at the
  // next step boundary (Communicator::Quorum admits them).
  std::vector<AdmittedRank> admitted;
  std::vector<int> joining_ranks;

  // The admitted rank's entry, or nullptr.
  const AdmittedRank* FindAdmitted(int rank) const;
  // The dead rank's entry, or nullptr when `rank` is not dead.
  const DeadRank* FindDead(int rank) const;
  // The first death (in the order they happened) that started an epoch after `since_epoch`, or
  // nullptr: the deaths a view of epoch `since_epoch` does not know. Every death for 0.
  const DeadRank* FirstDeathAfter(int64_t since_epoch) const;
  // "epoch 2: alive [0, 1, 3]; dead: rank 2 exited with status 9".
  std::string ToString() const;

  friend bool operator==(const Membership&, const Membership&) = default;
};

// The world a rank joins: what Register returns once every rank has registered.
struct World {
  std::string job_id;
  int world_size = 0;
  // data_addresses[r] is where rank r accepts data connections ("host:port").
  std::vector<std::string> data_addresses;
  // The text of the job's scenario file; empty when the job has none.
  std::string scenario_text;
  Membership membership;
  // The heartbeat cadence the coordinator expects; a rank missing heartbeat_miss_count of them in
  // a row is declared dead.
  int64_t heartbeat_interval_ms = 0;
  int heartbeat_miss_count = 0;
};

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_MEMBERSHIP_H_
