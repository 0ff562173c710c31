// InProcHub and its contexts: Connect finds the peer's context on the hub and queues the other
// end of a fresh pair for the peer's Accept.
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "crosslink/collectives/transport/inproc_transport.h"
#include "inproc_connection.h"

namespace crosslink::collectives {

class InProcHub {
 public:
  struct Endpoint {
    uint64_t job_id = 0;
    std::deque<std::pair<int, std::unique_ptr<Connection>>> incoming;
  };
  absl::Mutex mu;
  absl::flat_hash_map<int, Endpoint> endpoints ABSL_GUARDED_BY(mu);
};

std::shared_ptr<InProcHub> MakeInProcHub() { return std::make_shared<InProcHub>(); }

namespace {

class InProcContext final : public Context {
 public:
  InProcContext(std::shared_ptr<InProcHub> hub, int rank, uint64_t job_id)
      : hub_(std::move(hub)), rank_(rank), job_id_(job_id) {}

  ~InProcContext() override {
    std::deque<std::pair<int, std::unique_ptr<Connection>>> dropped;
    {
      absl::MutexLock lock(&hub_->mu);
      auto it = hub_->endpoints.find(rank_);
      if (it != hub_->endpoints.end()) {
        dropped = std::move(it->second.incoming);
        hub_->endpoints.erase(it);
      }
    }
    // `dropped` closes the connectors' ends as it goes, outside the hub's lock.
  }

  std::string address() const override { return absl::StrCat("inproc:", rank_); }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(int peer_rank,
                                                      const std::string& peer_address,
                                                      absl::Time deadline) override {
    int address_rank = -1;
    if (!absl::StartsWith(peer_address, "inproc:") ||
        !absl::SimpleAtoi(peer_address.substr(7), &address_rank) || address_rank != peer_rank) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "rank %d: address \"%s\" is not \"inproc:%d\"", rank_, peer_address, peer_rank));
    }
    absl::MutexLock lock(&hub_->mu);
    auto peer_exists = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(hub_->mu) {
      return hub_->endpoints.contains(peer_rank);
    };
    if (!hub_->mu.AwaitWithDeadline(absl::Condition(&peer_exists), deadline)) {
      return absl::UnavailableError(absl::StrFormat("rank %d: no rank %d at %s by the deadline",
                                                    rank_, peer_rank, peer_address));
    }
    InProcHub::Endpoint& peer = hub_->endpoints[peer_rank];
    if (peer.job_id != job_id_) {
      return absl::UnauthenticatedError(
          absl::StrFormat("rank %d -> rank %d (%s): refused, the peer belongs to job %d, this "
                          "rank to job %d",
                          rank_, peer_rank, peer_address, peer.job_id, job_id_));
    }
    auto [mine, theirs] = inproc_internal::MakePair(rank_, peer_rank, job_id_);
    peer.incoming.emplace_back(rank_, std::move(theirs));
    return std::move(mine);
  }

  absl::StatusOr<std::pair<int, std::unique_ptr<Connection>>> Accept(absl::Time deadline) override {
    absl::MutexLock lock(&hub_->mu);
    auto arrived = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(hub_->mu) {
      return !hub_->endpoints[rank_].incoming.empty();
    };
    if (!hub_->mu.AwaitWithDeadline(absl::Condition(&arrived), deadline)) {
      return absl::DeadlineExceededError(
          absl::StrFormat("rank %d (inproc): no connection arrived by the deadline", rank_));
    }
    auto& incoming = hub_->endpoints[rank_].incoming;
    auto next = std::move(incoming.front());
    incoming.pop_front();
    return next;
  }

 private:
  std::shared_ptr<InProcHub> hub_;
  const int rank_;
  const uint64_t job_id_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Context>> MakeInProcContext(std::shared_ptr<InProcHub> hub, int rank,
                                                           uint64_t job_id) {
  if (hub == nullptr) return absl::InvalidArgumentError("MakeInProcContext: null hub");
  if (rank < 0) {
    return absl::InvalidArgumentError(absl::StrFormat("MakeInProcContext: rank %d < 0", rank));
  }
  absl::MutexLock lock(&hub->mu);
  if (hub->endpoints.contains(rank)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("MakeInProcContext: rank %d already has a context on this hub", rank));
  }
  hub->endpoints[rank].job_id = job_id;
  return std::unique_ptr<Context>(std::make_unique<InProcContext>(hub, rank, job_id));
}

std::pair<std::unique_ptr<Connection>, std::unique_ptr<Connection>> MakeInProcPair(
    int rank_a, int rank_b, uint64_t job_id) {
  return inproc_internal::MakePair(rank_a, rank_b, job_id);
}

std::vector<std::vector<std::unique_ptr<Connection>>> MakeInProcMesh(int world_size,
                                                                     uint64_t job_id) {
  std::vector<std::vector<std::unique_ptr<Connection>>> mesh(world_size);
  for (auto& row : mesh) row.resize(world_size);
  for (int a = 0; a < world_size; ++a) {
    for (int b = a + 1; b < world_size; ++b) {
      auto [ab, ba] = inproc_internal::MakePair(a, b, job_id);
      mesh[a][b] = std::move(ab);
      mesh[b][a] = std::move(ba);
    }
  }
  return mesh;
}

}  // namespace crosslink::collectives
