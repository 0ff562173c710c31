#include "crosslink/runtime/coordinator_client.h"

#include <algorithm>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "coordinator_proto.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/runtime/coordinator.grpc.pb.h"
#include "grpc_status.h"
#include "grpcpp/grpcpp.h"
#include "tls_credentials.h"

namespace crosslink::runtime {
namespace {

// Heartbeat cadence when neither the caller nor a Register answer gave one.
constexpr absl::Duration kDefaultHeartbeatInterval = absl::Seconds(1);
// How long the coordinator may stay unreachable before the heartbeats report it lost, when the
// caller gives no time: long enough for a supervisor to restart it, short of any collective's
// default deadline (5 minutes).
constexpr absl::Duration kDefaultCoordinatorTimeout = absl::Seconds(30);
// Between retries of a call that found the coordinator unreachable.
constexpr absl::Duration kRetryPause = absl::Milliseconds(100);

std::string Str(std::string_view s) { return std::string(s); }

// gRPC backs off reconnecting up to 2 minutes by default; a coordinator that restarts in a second
// must be found again within about a second, or the ranks would miss its failure window.
grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return args;
}

// Whether `s` says the job is over (a Shutdown request ended it), not merely that the coordinator
// cannot be reached now.
bool JobEnded(const absl::Status& s) { return s.GetPayload(kJobEndedPayload).has_value(); }

}  // namespace

class CoordinatorClient::Impl {
 public:
  Impl(CoordinatorClientOptions options, std::shared_ptr<grpc::ChannelCredentials> credentials)
      : options(std::move(options)),
        channel(grpc::CreateCustomChannel(this->options.address, std::move(credentials),
                                          ChannelArgs())),
        stub(proto::Coordinator::NewStub(channel)) {}

  // Runs one unary call with the deadline and maps its status. `what` names the call for messages
  // ("Barrier 'step'"). An idempotent call that finds the coordinator unreachable is retried
  // within options.retry_unavailable_for (coordinator_client.h).
  template <typename Request, typename Response, typename Method>
  absl::Status Call(const std::string& what, Method method, Request& request, Response* response,
                    absl::Time deadline, bool wait_for_ready = false, bool idempotent = true) {
    const absl::Time start = absl::Now();
    const absl::Time give_up = idempotent && options.retry_unavailable_for > absl::ZeroDuration()
                                   ? std::min(deadline, start + options.retry_unavailable_for)
                                   : start;
    for (int attempt = 0;; ++attempt) {
      absl::Status s = CallOnce(what, method, request, response, deadline, wait_for_ready);
      if (s.ok() || s.code() != absl::StatusCode::kUnavailable || JobEnded(s)) return s;
      const absl::Time now = absl::Now();
      if (now + kRetryPause >= give_up) {
        if (attempt == 0) return s;
        return absl::Status(
            s.code(),
            absl::StrCat(s.message(), " (still unreachable after ",
                         absl::FormatDuration(absl::Trunc(now - start, absl::Milliseconds(1))),
                         " of retries)"));
      }
      absl::SleepFor(kRetryPause);
      // Waits for the coordinator to listen again (a restart), then re-announces this rank so a
      // coordinator that lost its state knows the job before the retry arrives.
      if (!channel->WaitForConnected(absl::ToChronoTime(give_up))) continue;
      if (options.rank >= 0) Reannounce(std::min(give_up, absl::Now() + absl::Seconds(1)));
    }
  }

  template <typename Request, typename Response, typename Method>
  absl::Status CallOnce(const std::string& what, Method method, Request& request,
                        Response* response, absl::Time deadline, bool wait_for_ready) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(deadline));
    ctx.set_wait_for_ready(wait_for_ready);
    const grpc::Status s = (stub.get()->*method)(&ctx, request, response);
    if (s.ok()) return absl::OkStatus();
    absl::Status status(FromGrpcCode(s.error_code()),
                        absl::StrCat(what, " from ", Who(), " to coordinator ", options.address,
                                     " failed: ", s.error_message()));
    if (s.error_details() == kJobEndedDetail) status.SetPayload(kJobEndedPayload, absl::Cord("1"));
    return status;
  }

  // A heartbeat request carrying this rank's newest view and data address, from which a
  // coordinator that restarted restores the job (coordinator_recovery.cc).
  proto::HeartbeatRequest HeartbeatRequest() const {
    proto::HeartbeatRequest request;
    request.set_job_token(options.job_token);
    request.set_rank(options.rank);
    request.set_incarnation(Incarnation());
    absl::MutexLock lock(&mu);
    if (membership.epoch > 0) ToProto(membership, request.mutable_known_membership());
    request.set_data_address(data_address);
    request.set_world_size(world_size);
    return request;
  }

  // One heartbeat without retries, its view adopted when newer; failures are left to the caller's
  // retry (and to the heartbeat thread, which reports them).
  void Reannounce(absl::Time deadline) {
    proto::HeartbeatRequest request = HeartbeatRequest();
    proto::HeartbeatResponse response;
    const int64_t known_before_call = KnownEpoch();
    if (CallOnce("Heartbeat", &proto::Coordinator::Stub::Heartbeat, request, &response, deadline,
                 /*wait_for_ready=*/false)
            .ok()) {
      Observe("Heartbeat", FromProto(response.membership()), known_before_call).IgnoreError();
    }
  }

  std::string Who() const {
    return options.rank < 0 ? std::string("the launcher") : absl::StrCat("rank ", options.rank);
  }

  // The highest membership epoch this client has seen. Callers read it before sending a request
  // and pass it to Observe with the answer.
  int64_t KnownEpoch() const {
    absl::MutexLock lock(&mu);
    return membership.epoch;
  }

  // Adopts `m` if it is the newest view seen. Epochs only grow in one coordinator, so an answer
  // below `known_before_call` (the epoch seen before the request was sent) means the coordinator
  // restarted (losing every death it had recorded) or another job's answered: kFailedPrecondition
  // naming `what` and both epochs, and the newer view stays. An answer below a view that a
  // concurrent call brought in meanwhile is merely stale and ignored.
  absl::Status Observe(const std::string& what, const Membership& m, int64_t known_before_call) {
    if (m.epoch < known_before_call) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " from ", Who(), ": coordinator ", options.address, " answered epoch ", m.epoch,
          " after epoch ", known_before_call, ": it restarted or is another job's"));
    }
    absl::MutexLock lock(&mu);
    if (m.epoch >= membership.epoch) membership = m;
    return absl::OkStatus();
  }

  void HeartbeatLoop(HeartbeatOptions hb, absl::Duration interval);

  const CoordinatorClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<proto::Coordinator::Stub> stub;

  mutable absl::Mutex mu;
  Membership membership ABSL_GUARDED_BY(mu);
  // 0 for a process that registered; the coordinator's answer to Rejoin for a restarted one.
  int64_t incarnation ABSL_GUARDED_BY(mu) = 0;
  // Barrier name -> generation of the round this process last passed (BarrierRequest).
  std::map<std::string, int64_t> barrier_generations ABSL_GUARDED_BY(mu);
  int64_t Incarnation() const {
    absl::MutexLock lock(&mu);
    return incarnation;
  }
  absl::Duration announced_interval ABSL_GUARDED_BY(mu) = absl::ZeroDuration();
  // From Register, for the heartbeats' report to a restarted coordinator.
  std::string data_address ABSL_GUARDED_BY(mu);
  int world_size ABSL_GUARDED_BY(mu) = 0;
  bool stop_heartbeats ABSL_GUARDED_BY(mu) = false;
  absl::CondVar stop_cv;
  std::thread heartbeat_thread;  // Touched only by Start/StopHeartbeats under hb_mu.
  absl::Mutex hb_mu;
};

void CoordinatorClient::Impl::HeartbeatLoop(HeartbeatOptions hb, absl::Duration interval) {
  const absl::Duration lost_after = hb.coordinator_timeout > absl::ZeroDuration()
                                        ? hb.coordinator_timeout
                                        : kDefaultCoordinatorTimeout;
  const auto report = [&hb](const absl::Status& s) {
    if (hb.on_error) hb.on_error(s);
  };
  int64_t known_epoch = KnownEpoch();
  absl::Time last_answer = absl::Now();
  bool lost_reported = false;
  bool regression_reported = false;
  absl::Status last_failure;
  while (true) {
    proto::HeartbeatRequest request = HeartbeatRequest();
    proto::HeartbeatResponse response;
    const int64_t known_before_call = KnownEpoch();
    const absl::Status s = CallOnce("Heartbeat", &proto::Coordinator::Stub::Heartbeat, request,
                                    &response, absl::Now() + interval, /*wait_for_ready=*/false);
    if (s.ok()) {
      last_answer = absl::Now();
      lost_reported = false;
      const Membership m = FromProto(response.membership());
      if (absl::Status observed = Observe("Heartbeat", m, known_before_call); !observed.ok()) {
        if (!regression_reported) report(observed);
        regression_reported = true;
      } else if (m.epoch != known_epoch) {
        known_epoch = m.epoch;
        if (hb.on_change) hb.on_change(m);
      }
    } else {
      // Verdicts of a coordinator that answered: retrying cannot change them.
      const bool final = s.code() == absl::StatusCode::kAborted ||
                         s.code() == absl::StatusCode::kUnauthenticated ||
                         s.code() == absl::StatusCode::kInvalidArgument ||
                         s.code() == absl::StatusCode::kPermissionDenied || JobEnded(s);
      if (final) {
        report(s);
        return;
      }
      last_failure = s;
      const absl::Duration silent = absl::Now() - last_answer;
      if (!lost_reported && silent >= lost_after) {
        lost_reported = true;
        report(absl::UnavailableError(absl::StrCat(
            Who(), " lost the job coordinator at ", options.address, ": no heartbeat answered for ",
            absl::FormatDuration(absl::Trunc(silent, absl::Milliseconds(1))), " (limit ",
            absl::FormatDuration(lost_after),
            ", CommunicatorOptions::coordinator_timeout or CROSSLINK_COORDINATOR_TIMEOUT); "
            "last error: ",
            last_failure.message())));
      }
    }
    absl::MutexLock lock(&mu);
    const absl::Time next = absl::Now() + interval;
    while (!stop_heartbeats) {
      if (stop_cv.WaitWithDeadline(&mu, next)) break;
    }
    if (stop_heartbeats) return;
  }
}

absl::StatusOr<std::unique_ptr<CoordinatorClient>> CoordinatorClient::Create(
    CoordinatorClientOptions options) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("coordinator client: the coordinator address is empty");
  }
  if (options.job_token.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "coordinator client for ",
        options.rank < 0 ? std::string("the launcher") : absl::StrCat("rank ", options.rank),
        ": the job token is empty (set CROSSLINK_JOB_TOKEN)"));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> credentials,
                   CoordinatorChannelCredentials(options.tls_ca_file));
  return std::unique_ptr<CoordinatorClient>(
      new CoordinatorClient(std::make_unique<Impl>(std::move(options), std::move(credentials))));
}

CoordinatorClient::CoordinatorClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

CoordinatorClient::~CoordinatorClient() { StopHeartbeats(); }

int CoordinatorClient::rank() const { return impl_->options.rank; }

const std::string& CoordinatorClient::address() const { return impl_->options.address; }

absl::StatusOr<World> CoordinatorClient::Register(int world_size, std::string_view data_address,
                                                  absl::Time deadline) {
  proto::RegisterRequest request;
  request.set_job_token(impl_->options.job_token);
  request.set_rank(impl_->options.rank);
  request.set_world_size(world_size);
  request.set_data_address(Str(data_address));
  proto::RegisterResponse response;
  // wait_for_ready: the coordinator may still be starting (it lives in rank 0 or the launcher).
  const int64_t known_before_call = impl_->KnownEpoch();
  if (absl::Status s = impl_->Call("Register", &proto::Coordinator::Stub::Register, request,
                                   &response, deadline, /*wait_for_ready=*/true);
      !s.ok()) {
    return s;
  }
  World world = FromProto(response);
  RETURN_IF_ERROR(impl_->Observe("Register", world.membership, known_before_call));
  absl::MutexLock lock(&impl_->mu);
  impl_->announced_interval = absl::Milliseconds(world.heartbeat_interval_ms);
  impl_->data_address = Str(data_address);
  impl_->world_size = world_size;
  return world;
}

absl::StatusOr<World> CoordinatorClient::Rejoin(int world_size, std::string_view data_address,
                                                absl::Time deadline) {
  proto::RejoinRequest request;
  request.set_job_token(impl_->options.job_token);
  request.set_rank(impl_->options.rank);
  request.set_world_size(world_size);
  request.set_data_address(Str(data_address));
  // The old process may not have been declared dead yet (a rank that re-launches itself can be
  // faster than the launcher's report or the heartbeat timeout): retry that refusal, with a
  // backoff, until the deadline.
  absl::Duration backoff = absl::Milliseconds(100);
  absl::Status last;
  while (true) {
    proto::RejoinResponse response;
    last = impl_->Call("Rejoin", &proto::Coordinator::Stub::Rejoin, request, &response, deadline,
                       /*wait_for_ready=*/true);
    if (last.ok()) {
      World world = FromProto(response.world());
      RETURN_IF_ERROR(impl_->Observe("Rejoin", world.membership, 0));
      absl::MutexLock lock(&impl_->mu);
      impl_->incarnation = response.incarnation();
      impl_->announced_interval = absl::Milliseconds(world.heartbeat_interval_ms);
      // A restarted coordinator learns the new process's address from its heartbeats.
      impl_->data_address = Str(data_address);
      impl_->world_size = world_size;
      return world;
    }
    if (last.code() != absl::StatusCode::kFailedPrecondition || absl::Now() + backoff >= deadline) {
      break;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(1));
  }
  if (last.code() == absl::StatusCode::kFailedPrecondition) {
    return absl::DeadlineExceededError(
        absl::StrCat(last.message(), " (retried until the deadline)"));
  }
  return last;
}

absl::StatusOr<Membership> CoordinatorClient::Admit(int64_t epoch, absl::Time deadline) {
  proto::AdmitRequest request;
  request.set_job_token(impl_->options.job_token);
  request.set_rank(impl_->options.rank);
  request.set_epoch(epoch);
  request.set_incarnation(impl_->Incarnation());
  proto::AdmitResponse response;
  const int64_t known_before_call = impl_->KnownEpoch();
  RETURN_IF_ERROR(
      impl_->Call("Admit", &proto::Coordinator::Stub::Admit, request, &response, deadline));
  Membership m = FromProto(response.membership());
  RETURN_IF_ERROR(impl_->Observe("Admit", m, known_before_call));
  return m;
}

int64_t CoordinatorClient::incarnation() const { return impl_->Incarnation(); }

absl::StatusOr<Membership> CoordinatorClient::Heartbeat(absl::Time deadline) {
  proto::HeartbeatRequest request = impl_->HeartbeatRequest();
  proto::HeartbeatResponse response;
  const int64_t known_before_call = impl_->KnownEpoch();
  if (absl::Status s = impl_->Call("Heartbeat", &proto::Coordinator::Stub::Heartbeat, request,
                                   &response, deadline);
      !s.ok()) {
    return s;
  }
  Membership m = FromProto(response.membership());
  RETURN_IF_ERROR(impl_->Observe("Heartbeat", m, known_before_call));
  return m;
}

absl::StatusOr<Membership> CoordinatorClient::ReportFailure(int failed_rank,
                                                            std::string_view reason,
                                                            absl::Time deadline) {
  proto::ReportFailureRequest request;
  request.set_job_token(impl_->options.job_token);
  request.set_rank(failed_rank);
  request.set_reason(Str(reason));
  request.set_reporter_rank(impl_->options.rank);
  if (impl_->options.rank < 0) request.set_launcher_token(impl_->options.launcher_token);
  proto::ReportFailureResponse response;
  const int64_t known_before_call = impl_->KnownEpoch();
  if (absl::Status s =
          impl_->Call(absl::StrCat("ReportFailure of rank ", failed_rank),
                      &proto::Coordinator::Stub::ReportFailure, request, &response, deadline);
      !s.ok()) {
    return s;
  }
  Membership m = FromProto(response.membership());
  RETURN_IF_ERROR(impl_->Observe("ReportFailure", m, known_before_call));
  return m;
}

absl::Status CoordinatorClient::Barrier(std::string_view name, absl::Time deadline, int64_t epoch) {
  proto::BarrierRequest request;
  request.set_job_token(impl_->options.job_token);
  request.set_name(Str(name));
  request.set_rank(impl_->options.rank);
  request.set_epoch(epoch);
  request.set_incarnation(impl_->Incarnation());
  {
    absl::MutexLock lock(&impl_->mu);
    const auto it = impl_->barrier_generations.find(request.name());
    if (it != impl_->barrier_generations.end()) request.set_passed_generation(it->second);
  }
  proto::BarrierResponse response;
  const std::string what = absl::StrCat("Barrier '", Str(name), "'");
  const int64_t known_before_call = impl_->KnownEpoch();
  RETURN_IF_ERROR(
      impl_->Call(what, &proto::Coordinator::Stub::Barrier, request, &response, deadline));
  if (response.generation() > 0) {
    absl::MutexLock lock(&impl_->mu);
    impl_->barrier_generations[request.name()] = response.generation();
  }
  return impl_->Observe(what, FromProto(response.membership()), known_before_call);
}

absl::Status CoordinatorClient::KvSet(std::string_view key, std::string_view value,
                                      absl::Time deadline) {
  proto::KvSetRequest request;
  request.set_job_token(impl_->options.job_token);
  request.set_key(Str(key));
  request.set_value(Str(value));
  proto::KvSetResponse response;
  return impl_->Call(absl::StrCat("KvSet '", Str(key), "'"), &proto::Coordinator::Stub::KvSet,
                     request, &response, deadline);
}

absl::StatusOr<std::string> CoordinatorClient::KvGet(std::string_view key, absl::Time deadline) {
  proto::KvGetRequest request;
  request.set_job_token(impl_->options.job_token);
  request.set_key(Str(key));
  proto::KvGetResponse response;
  if (absl::Status s = impl_->Call(absl::StrCat("KvGet '", Str(key), "'"),
                                   &proto::Coordinator::Stub::KvGet, request, &response, deadline);
      !s.ok()) {
    return s;
  }
  return std::move(*response.mutable_value());
}

absl::StatusOr<int64_t> CoordinatorClient::KvAdd(std::string_view key, int64_t delta,
                                                 absl::Time deadline) {
  proto::KvAddRequest request;
  request.set_job_token(impl_->options.job_token);
  request.set_key(Str(key));
  request.set_delta(delta);
  proto::KvAddResponse response;
  // Not retried: a lost answer may hide an applied addition.
  if (absl::Status s = impl_->Call(absl::StrCat("KvAdd '", Str(key), "'"),
                                   &proto::Coordinator::Stub::KvAdd, request, &response, deadline,
                                   /*wait_for_ready=*/false, /*idempotent=*/false);
      !s.ok()) {
    return s;
  }
  return response.value();
}

absl::Status CoordinatorClient::Shutdown(std::string_view reason, absl::Time deadline) {
  proto::ShutdownRequest request;
  request.set_job_token(impl_->options.job_token);
  request.set_reason(Str(reason));
  request.set_requester_rank(impl_->options.rank);
  proto::ShutdownResponse response;
  return impl_->Call("Shutdown", &proto::Coordinator::Stub::Shutdown, request, &response, deadline);
}

absl::Status CoordinatorClient::StartHeartbeats(HeartbeatOptions options) {
  if (impl_->options.rank < 0) {
    return absl::FailedPreconditionError(
        "StartHeartbeats: this coordinator client is not a rank (rank -1); only ranks heartbeat");
  }
  absl::MutexLock hb_lock(&impl_->hb_mu);
  if (impl_->heartbeat_thread.joinable()) {
    return absl::FailedPreconditionError(
        absl::StrCat("StartHeartbeats: rank ", impl_->options.rank, " already heartbeats"));
  }
  absl::Duration interval = options.interval;
  {
    absl::MutexLock lock(&impl_->mu);
    if (interval <= absl::ZeroDuration()) interval = impl_->announced_interval;
    impl_->stop_heartbeats = false;
  }
  if (interval <= absl::ZeroDuration()) interval = kDefaultHeartbeatInterval;
  impl_->heartbeat_thread = std::thread([this, options = std::move(options), interval]() mutable {
    impl_->HeartbeatLoop(std::move(options), interval);
  });
  return absl::OkStatus();
}

void CoordinatorClient::StopHeartbeats() {
  absl::MutexLock hb_lock(&impl_->hb_mu);
  if (!impl_->heartbeat_thread.joinable()) return;
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->stop_heartbeats = true;
    impl_->stop_cv.SignalAll();
  }
  impl_->heartbeat_thread.join();
}

Membership CoordinatorClient::last_membership() const {
  absl::MutexLock lock(&impl_->mu);
  return impl_->membership;
}

}  // namespace crosslink::runtime
