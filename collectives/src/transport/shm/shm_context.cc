// ShmContext: a TCP context whose connections are upgraded to shared memory when both ranks are
// on one host (see shm_transport.h for the handshake).
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../tcp/tcp_connection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/collectives/transport/shm_transport.h"
#include "shm_connection.h"
#include "shm_ring.h"

namespace crosslink::collectives {
namespace {

using shm_internal::Segment;
using shm_internal::ShmConnection;

// Handshake frames on the fresh TCP connection: the connector's offer carries the segment name
// (empty: no offer), the acceptor's answer says in `chunk` whether it took it.
constexpr uint32_t kOfferTag = 0x4F4D4853;   // "SHMO"
constexpr uint32_t kAnswerTag = 0x414D4853;  // "SHMA"
constexpr uint32_t kDeclined = 0;
constexpr uint32_t kAccepted = 1;
constexpr size_t kMaxOfferBytes = 256;  // a shm name is at most NAME_MAX (255) bytes
// Upgrade handshakes answered at once; each is an authenticated connection (the TCP context
// bounds the unauthenticated ones), so this only caps threads, far above a mesh's needs.
constexpr size_t kMaxUpgradesInFlight = 64;
// The accept thread polls its stop flag this often while no connection arrives.
constexpr absl::Duration kAcceptPoll = absl::Milliseconds(50);

uint64_t RandomWord() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

// The key the TCP handshake derived for `tcp` (a TcpConnection: the TCP context makes no other).
const handshake::SessionKey* SessionKeyOf(const Connection& tcp) {
  const auto* connection = dynamic_cast<const tcp_internal::TcpConnection*>(&tcp);
  return connection != nullptr ? &connection->session_key() : nullptr;
}

// Sends one handshake frame and waits for it, then receives the answer into `buffer`.
absl::Status SendFrame(Connection& c, uint32_t tag, uint32_t chunk, std::string_view payload,
                       absl::Time deadline) {
  return c
      .Send(FrameHeader{.chunk = chunk, .tag = tag},
            absl::MakeConstSpan(reinterpret_cast<const std::byte*>(payload.data()), payload.size()))
      ->Wait(deadline);
}

class ShmContextImpl final : public ShmContext {
 public:
  ShmContextImpl(int rank, uint64_t job_id, ShmOptions options, std::unique_ptr<Context> tcp)
      : rank_(rank), job_id_(job_id), options_(std::move(options)), tcp_(std::move(tcp)) {
    offer_.store(options_.offer);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~ShmContextImpl() override {
    stopping_.store(true);
    accept_thread_.join();
  }

  std::string address() const override { return tcp_->address(); }
  void set_offer_shared_memory(bool offer) override { offer_.store(offer); }

  absl::StatusOr<std::unique_ptr<Connection>> Connect(int peer_rank,
                                                      const std::string& peer_address,
                                                      absl::Time deadline) override;

  absl::StatusOr<std::pair<int, std::unique_ptr<Connection>>> Accept(absl::Time deadline) override {
    absl::MutexLock lock(&mu_);
    auto arrived = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !accepted_.empty(); };
    if (!mu_.AwaitWithDeadline(absl::Condition(&arrived), deadline)) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "rank %d (shm/tcp %s): no connection arrived by the deadline", rank_, address()));
    }
    auto next = std::move(accepted_.front());
    accepted_.pop_front();
    return next;
  }

 private:
  void AcceptLoop();
  // The acceptor's half of the handshake; an error drops the connection (the connector then
  // fails with kUnavailable).
  absl::StatusOr<std::unique_ptr<Connection>> AnswerOffer(int peer_rank,
                                                          std::unique_ptr<Connection> tcp);

  const int rank_;
  const uint64_t job_id_;
  const ShmOptions options_;
  const std::unique_ptr<Context> tcp_;
  std::atomic<bool> offer_{true};
  std::atomic<bool> stopping_{false};
  std::thread accept_thread_;

  absl::Mutex mu_;
  std::deque<std::pair<int, std::unique_ptr<Connection>>> accepted_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::unique_ptr<Connection>> ShmContextImpl::Connect(int peer_rank,
                                                                    const std::string& peer_address,
                                                                    absl::Time deadline) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> tcp,
                   tcp_->Connect(peer_rank, peer_address, deadline));
  const std::string what =
      absl::StrFormat("rank %d -> rank %d (shm %s)", rank_, peer_rank, peer_address);
  std::unique_ptr<Segment> segment;
  const handshake::SessionKey* session_key = SessionKeyOf(*tcp);
  if (offer_.load() && session_key != nullptr) {
    // Random, and naming neither the job nor its key: only the authenticated peer learns it.
    const std::string name = shm_internal::SegmentName(RandomWord(), RandomWord());
    absl::StatusOr<std::unique_ptr<Segment>> created =
        Segment::Create(name, *session_key, rank_, peer_rank, options_.ring_bytes);
    // No /dev/shm (or it is full): the connection stays on TCP, which works everywhere.
    if (created.ok()) {
      segment = std::move(created).value();
      segment->PublishProcess(/*side=*/0);
    }
  }
  const absl::Time handshake_deadline =
      std::min(deadline, absl::Now() + options_.handshake_timeout);
  std::array<std::byte, kMaxOfferBytes> answer_bytes;
  // Posted first, so the answer goes straight into it.
  std::shared_ptr<RecvHandle> answer = tcp->Recv(absl::MakeSpan(answer_bytes));
  absl::Status sent =
      SendFrame(*tcp, kOfferTag, 0, segment ? segment->name() : "", handshake_deadline);
  absl::Status answered = sent.ok() ? answer->Wait(handshake_deadline) : sent;
  if (segment != nullptr) segment->Unlink();  // mapped by both ends now, or never will be
  if (answered.ok() && answer->header().tag != kAnswerTag) {
    answered = absl::InvalidArgumentError("the peer answered the offer with another frame");
  }
  if (!answered.ok()) {
    tcp.reset();  // joins its threads before answer_bytes, which one may be writing, goes away
    return absl::UnavailableError(
        absl::StrCat(what, ": shared-memory handshake failed: ", answered.message()));
  }
  if (segment == nullptr || answer->header().chunk != kAccepted) return tcp;
  return std::unique_ptr<Connection>(std::make_unique<ShmConnection>(
      std::move(tcp), std::move(segment), /*side=*/0, peer_rank, job_id_, what,
      options_.piece_bytes, options_.pull_min_bytes));
}

absl::StatusOr<std::unique_ptr<Connection>> ShmContextImpl::AnswerOffer(
    int peer_rank, std::unique_ptr<Connection> tcp) {
  const absl::Time deadline = absl::Now() + options_.handshake_timeout;
  std::array<std::byte, kMaxOfferBytes> offer_bytes;
  std::shared_ptr<RecvHandle> offer = tcp->Recv(absl::MakeSpan(offer_bytes));
  // Waited for in slices, so that a context being destroyed does not wait out the deadline.
  absl::Status got = absl::DeadlineExceededError("no offer");
  while (!stopping_.load()) {
    got = offer->Wait(std::min(deadline, absl::Now() + kAcceptPoll));
    if (got.code() != absl::StatusCode::kDeadlineExceeded || absl::Now() >= deadline) break;
  }
  if (!got.ok()) {
    got = absl::Status(got.code(),
                       absl::StrCat(tcp->Describe(), ": no shared-memory offer: ", got.message()));
    tcp.reset();  // joins its threads before offer_bytes, which one may be writing, goes away
    return got;
  }
  if (offer->header().tag != kOfferTag) {
    return absl::InvalidArgumentError(
        absl::StrCat(tcp->Describe(), ": expected a shared-memory offer"));
  }
  const std::string name(reinterpret_cast<const char*>(offer_bytes.data()), offer->header().length);
  std::unique_ptr<Segment> segment;
  const handshake::SessionKey* session_key = SessionKeyOf(*tcp);
  if (shm_internal::IsSegmentName(name) && options_.accept && session_key != nullptr) {
    // Fails on another host (no such name in this /dev/shm): the connection stays TCP.
    absl::StatusOr<std::unique_ptr<Segment>> opened =
        Segment::Open(name, *session_key, peer_rank, rank_);
    if (opened.ok()) {
      segment = std::move(opened).value();
      segment->PublishProcess(/*side=*/1);
    }
  }
  // Whether taken or not, the name goes now: both ends have it mapped, or it will never be used,
  // so nothing is left in /dev/shm if the connector dies before its own unlink.
  if (shm_internal::IsSegmentName(name)) ::shm_unlink(name.c_str());
  RETURN_IF_ERROR(
      SendFrame(*tcp, kAnswerTag, segment != nullptr ? kAccepted : kDeclined, "", deadline));
  if (segment == nullptr) return tcp;
  std::string describe = absl::StrReplaceAll(tcp->Describe(), {{"(tcp ", "(shm "}});
  return std::unique_ptr<Connection>(std::make_unique<ShmConnection>(
      std::move(tcp), std::move(segment), /*side=*/1, peer_rank, job_id_, std::move(describe),
      options_.piece_bytes, options_.pull_min_bytes));
}

void ShmContextImpl::AcceptLoop() {
  // Each upgrade handshake runs on a thread of its own: a peer that authenticated but then sends
  // no offer (it crashed, or it is slow) holds up only its own connection, for at most
  // options_.handshake_timeout, never the ones behind it.
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> workers;
  auto reap = [&workers](bool all) {
    for (auto it = workers.begin(); it != workers.end();) {
      if (all || it->done->load()) {
        it->thread.join();
        it = workers.erase(it);
      } else {
        ++it;
      }
    }
  };
  while (!stopping_.load()) {
    reap(/*all=*/false);
    if (workers.size() >= kMaxUpgradesInFlight) {
      absl::SleepFor(absl::Milliseconds(1));
      continue;
    }
    absl::StatusOr<std::pair<int, std::unique_ptr<Connection>>> accepted =
        tcp_->Accept(absl::Now() + kAcceptPoll);
    if (!accepted.ok()) continue;
    auto done = std::make_shared<std::atomic<bool>>(false);
    auto tcp = std::make_shared<std::unique_ptr<Connection>>(std::move(accepted->second));
    const int peer_rank = accepted->first;
    workers.push_back(Worker{std::thread([this, peer_rank, tcp, done] {
                               absl::StatusOr<std::unique_ptr<Connection>> connection =
                                   AnswerOffer(peer_rank, std::move(*tcp));
                               if (connection.ok()) {  // else dropped: the connector's fails
                                 absl::MutexLock lock(&mu_);
                                 accepted_.emplace_back(peer_rank, std::move(connection).value());
                               }
                               done->store(true);
                             }),
                             done});
  }
  reap(/*all=*/true);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShmContext>> MakeShmContext(int rank, uint64_t job_id,
                                                           const ShmOptions& options) {
  // What connectors killed mid-handshake on this host left behind (their pid is in the name).
  shm_internal::RemoveSegmentsOfDeadProcesses();
  ASSIGN_OR_RETURN(std::unique_ptr<Context> tcp, MakeTcpContext(rank, job_id, options.tcp));
  return std::unique_ptr<ShmContext>(
      std::make_unique<ShmContextImpl>(rank, job_id, options, std::move(tcp)));
}

bool IsSharedMemoryConnection(const Connection& connection) {
  return dynamic_cast<const ShmConnection*>(&connection) != nullptr;
}

}  // namespace crosslink::collectives
