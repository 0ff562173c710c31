#include "crosslink/runtime/coordinator_server.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator_persistence.h"
#include "coordinator_proto.h"
#include "coordinator_state.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/runtime/coordinator.grpc.pb.h"
#include "grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "tls_credentials.h"

namespace crosslink::runtime {
namespace {

// A long poll answers a little before the caller's own deadline so that the caller receives the
// coordinator's explanation (which ranks are missing) rather than gRPC's bare "Deadline Exceeded".
absl::Time CallDeadline(const grpc::ServerContext* ctx) {
  const auto deadline = ctx->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  const absl::Time d = absl::FromChrono(deadline);
  const absl::Duration margin =
      std::min(absl::Milliseconds(100), std::max(absl::ZeroDuration(), (d - absl::Now()) / 10));
  return d - margin;
}

// The most ranks a heartbeat's view may list (a job is far smaller; the state checks the exact
// world size after this cheap bound).
constexpr int64_t kMaxReportedRanks = 1 << 20;

class CoordinatorService final : public proto::Coordinator::Service {
 public:
  explicit CoordinatorService(CoordinatorState* state) : state_(state) {}

  grpc::Status Register(grpc::ServerContext* ctx, const proto::RegisterRequest* req,
                        proto::RegisterResponse* resp) override {
    if (auto s = state_->CheckToken(req->job_token()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    absl::StatusOr<World> world =
        state_->Register(req->rank(), req->world_size(), req->data_address(), CallDeadline(ctx),
                         [ctx] { return ctx->IsCancelled(); });
    if (!world.ok()) return ToGrpcStatus(world.status());
    ToProto(*world, resp);
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext*, const proto::HeartbeatRequest* req,
                         proto::HeartbeatResponse* resp) override {
    if (auto s = state_->CheckToken(req->job_token()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    CoordinatorState::RankReport report;
    // Bounded before conversion: a view names each rank once, so more entries than ranks is bad.
    const int64_t listed = static_cast<int64_t>(req->known_membership().alive_ranks_size()) +
                           req->known_membership().dead_ranks_size();
    if (listed > kMaxReportedRanks) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("rank ", req->rank(), " reported a view of ", listed,
                                       " ranks, over ", kMaxReportedRanks));
    }
    report.known_membership = FromProto(req->known_membership());
    report.data_address = req->data_address();
    report.world_size = req->world_size();
    absl::StatusOr<Membership> m = state_->Heartbeat(req->rank(), report, req->incarnation());
    if (!m.ok()) {
      grpc::Status status = ToGrpcStatus(m.status());
      // A job that ended is final for its ranks; a coordinator that stops may come back.
      if (state_->job_ended()) {
        status = grpc::Status(status.error_code(), status.error_message(), kJobEndedDetail);
      }
      return status;
    }
    ToProto(*m, resp->mutable_membership());
    return grpc::Status::OK;
  }

  grpc::Status ReportFailure(grpc::ServerContext*, const proto::ReportFailureRequest* req,
                             proto::ReportFailureResponse* resp) override {
    if (auto s = state_->CheckToken(req->job_token()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    if (auto s = state_->CheckReporter(req->rank(), req->reporter_rank(), req->launcher_token());
        !s.ok()) {
      return ToGrpcStatus(s);
    }
    if (req->reason().size() > kMaxReasonBytes) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("the reason of a failure report is ", req->reason().size(),
                                       " bytes, over ", kMaxReasonBytes));
    }
    absl::StatusOr<Membership> m =
        state_->ReportFailure(req->rank(), req->reason(), req->reporter_rank());
    if (!m.ok()) return ToGrpcStatus(m.status());
    ToProto(*m, resp->mutable_membership());
    return grpc::Status::OK;
  }

  grpc::Status Barrier(grpc::ServerContext* ctx, const proto::BarrierRequest* req,
                       proto::BarrierResponse* resp) override {
    if (auto s = state_->CheckToken(req->job_token()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    int64_t generation = 0;
    absl::StatusOr<Membership> m = state_->Barrier(
        req->name(), req->rank(), req->epoch(), CallDeadline(ctx),
        [ctx] { return ctx->IsCancelled(); }, req->incarnation(), req->passed_generation(),
        &generation);
    if (!m.ok()) return ToGrpcStatus(m.status());
    // The release is on disk before any rank hears of it: a restarted coordinator then knows the
    // round completed (a rank that missed the answer asks again) and never runs it twice.
    state_->FlushSnapshot();
    ToProto(*m, resp->mutable_membership());
    resp->set_generation(generation);
    return grpc::Status::OK;
  }

  grpc::Status KvSet(grpc::ServerContext*, const proto::KvSetRequest* req,
                     proto::KvSetResponse*) override {
    if (auto s = state_->CheckToken(req->job_token()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    const absl::Status set = state_->KvSet(req->key(), req->value());
    // Durable before acknowledged: a coordinator killed right after answering must not lose a
    // key the ranks then wait for (an elastic job's commit votes would hang until their deadline
    // after a restart). No-op without a state file; concurrent writes share one file write.
    if (set.ok()) state_->FlushSnapshot();
    return ToGrpcStatus(set);
  }

  grpc::Status KvGet(grpc::ServerContext* ctx, const proto::KvGetRequest* req,
                     proto::KvGetResponse* resp) override {
    if (auto s = state_->CheckToken(req->job_token()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    absl::StatusOr<std::string> value =
        state_->KvGet(req->key(), CallDeadline(ctx), [ctx] { return ctx->IsCancelled(); });
    if (!value.ok()) return ToGrpcStatus(value.status());
    resp->set_value(*std::move(value));
    return grpc::Status::OK;
  }

  grpc::Status KvAdd(grpc::ServerContext*, const proto::KvAddRequest* req,
                     proto::KvAddResponse* resp) override {
    if (auto s = state_->CheckToken(req->job_token()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    absl::StatusOr<int64_t> value = state_->KvAdd(req->key(), req->delta());
    if (!value.ok()) return ToGrpcStatus(value.status());
    state_->FlushSnapshot();  // durable before acknowledged, as KvSet
    resp->set_value(*value);
    return grpc::Status::OK;
  }

  grpc::Status Shutdown(grpc::ServerContext*, const proto::ShutdownRequest* req,
                        proto::ShutdownResponse*) override {
    if (auto s = state_->CheckToken(req->job_token()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    state_->Shutdown(absl::StrCat(req->requester_rank() < 0
                                      ? std::string("requested by the launcher")
                                      : absl::StrCat("requested by rank ", req->requester_rank()),
                                  req->reason().empty() ? "" : ": ", req->reason()),
                     /*job_ended=*/true);
    return grpc::Status::OK;
  }

  // Elastic rejoin (rank_admission.cc).
  grpc::Status Rejoin(grpc::ServerContext* ctx, const proto::RejoinRequest* req,
                      proto::RejoinResponse* resp) override {
    if (auto s = state_->CheckToken(req->job_token()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    absl::StatusOr<CoordinatorState::Rejoined> rejoined =
        state_->Rejoin(req->rank(), req->world_size(), req->data_address(), CallDeadline(ctx),
                       [ctx] { return ctx->IsCancelled(); });
    if (!rejoined.ok()) return ToGrpcStatus(rejoined.status());
    ToProto(rejoined->world, resp->mutable_world());
    resp->set_incarnation(rejoined->incarnation);
    return grpc::Status::OK;
  }

  grpc::Status Admit(grpc::ServerContext*, const proto::AdmitRequest* req,
                     proto::AdmitResponse* resp) override {
    if (auto s = state_->CheckToken(req->job_token()); !s.ok()) {
      return ToGrpcStatus(s);
    }
    absl::StatusOr<Membership> m = state_->Admit(req->rank(), req->incarnation(), req->epoch());
    if (!m.ok()) return ToGrpcStatus(m.status());
    ToProto(*m, resp->mutable_membership());
    return grpc::Status::OK;
  }

 private:
  CoordinatorState* state_;
};

}  // namespace

class CoordinatorServer::Impl {
 public:
  Impl(const CoordinatorOptions& options, std::optional<CoordinatorSnapshot> restored)
      : state(options, std::move(restored)), service(&state) {}

  std::string address;
  int port = 0;
  CoordinatorState state;
  CoordinatorService service;
  std::unique_ptr<grpc::Server> server;
  absl::Mutex stop_mu;
  bool stopped ABSL_GUARDED_BY(stop_mu) = false;
};

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    CoordinatorOptions options) {
  if (options.world_size <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinator: world size must be positive, got ", options.world_size));
  }
  if (options.job_token.empty()) {
    return absl::InvalidArgumentError("coordinator: the job token must not be empty");
  }
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("coordinator: port ", options.port, " is outside 0..65535"));
  }
  if (options.heartbeat_interval <= absl::ZeroDuration() || options.heartbeat_miss_count <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "coordinator: heartbeat interval (", absl::FormatDuration(options.heartbeat_interval),
        ") and miss count (", options.heartbeat_miss_count, ") must be positive"));
  }
  if (options.max_kv_key_bytes <= 0 || options.max_kv_value_bytes <= 0 ||
      options.max_kv_keys <= 0 || options.max_kv_total_bytes <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "coordinator: key-value quotas must be positive (key bytes ", options.max_kv_key_bytes,
        ", value bytes ", options.max_kv_value_bytes, ", keys ", options.max_kv_keys,
        ", total bytes ", options.max_kv_total_bytes, ")"));
  }
  if (options.job_id.empty()) options.job_id = "crosslink-job";
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                   CoordinatorServerCredentials(options.tls_cert_file, options.tls_key_file));
  std::optional<CoordinatorSnapshot> restored;
  if (!options.state_file.empty()) {
    ASSIGN_OR_RETURN(restored, ReadSnapshotFile(options));
  }
  const std::string bind = options.bind_address.find(':') != std::string::npos
                               ? absl::StrCat("[", options.bind_address, "]:", options.port)
                               : absl::StrCat(options.bind_address, ":", options.port);
  auto impl = std::make_unique<Impl>(options, std::move(restored));
  grpc::ServerBuilder builder;
  // gRPC shares ports (SO_REUSEPORT) by default: a second coordinator on a taken port would then
  // start "successfully" and split the job's ranks between two coordinators. Fail instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(bind, credentials, &impl->port);
  builder.RegisterService(&impl->service);
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat("coordinator of job ", options.job_id,
                                               ": cannot listen on ", bind,
                                               " (address in use or not local?)"));
  }
  const std::string host = options.bind_address == "0.0.0.0" || options.bind_address == "::"
                               ? std::string("127.0.0.1")
                               : options.bind_address;
  impl->address = host.find(':') != std::string::npos ? absl::StrCat("[", host, "]:", impl->port)
                                                      : absl::StrCat(host, ":", impl->port);
  return std::unique_ptr<CoordinatorServer>(new CoordinatorServer(std::move(impl)));
}

CoordinatorServer::CoordinatorServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CoordinatorServer::~CoordinatorServer() { Stop(); }

int CoordinatorServer::port() const { return impl_->port; }

std::string CoordinatorServer::address() const { return impl_->address; }

Membership CoordinatorServer::membership() const { return impl_->state.membership(); }

absl::Status CoordinatorServer::ReportFailure(int rank, std::string reason) {
  return impl_->state.ReportFailure(rank, std::move(reason), -1).status();
}

bool CoordinatorServer::WaitForShutdownRequest(absl::Time deadline) const {
  return impl_->state.WaitForShutdownRequest(deadline);
}

void CoordinatorServer::Stop() {
  absl::MutexLock lock(&impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  // Wake blocked handlers first; gRPC's Shutdown waits for running handlers to return.
  impl_->state.Shutdown("the coordinator is stopping");
  impl_->server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  impl_->server->Wait();
  // The newest state stays behind for a coordinator that restarts.
  impl_->state.FlushSnapshot();
}

}  // namespace crosslink::runtime
