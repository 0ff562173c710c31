// crosslink-coordinator: the job coordinator as a process of its own, for jobs whose ranks no
// crosslink-run starts (several nodes, a scheduler, containers) and that must outlive a
// coordinator crash: run it under a supervisor (systemd, a Kubernetes Deployment) with --state, and
// a restarted coordinator on the same --port with the same token resumes the job at its
// membership epoch (README "Coordinator restarts"). Ranks use CROSSLINK_COORDINATOR=external with
// MASTER_ADDR/MASTER_PORT pointing here.
//
// The job token comes from CROSSLINK_JOB_TOKEN (never from the command line, which other users of
// the machine can read in /proc). CROSSLINK_LAUNCHER_TOKEN, when set, is the credential a remote
// launcher presents to report other ranks dead (CoordinatorOptions::launcher_token).
// Runs until SIGINT/SIGTERM or a Shutdown request; exit 0 then, 2 for bad arguments, 1 when the
// coordinator cannot start (port taken, state file corrupt or another job's, TLS files bad).
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "crosslink/base/flags.h"
#include "crosslink/runtime/coordinator_server.h"

namespace {

constexpr char kSynopsis[] =
    "usage: CROSSLINK_JOB_TOKEN=... crosslink-coordinator -n N --port P [--bind ADDR]\n"
    "           [--state FILE] [--scenario FILE] [--tls-cert FILE --tls-key FILE]\n"
    "Serves one job's coordinator until SIGINT/SIGTERM or a Shutdown request. With --state\n"
    "it persists the job's state and a restart resumes the job at the same epoch.\n";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

}  // namespace

int main(int argc, char** argv) {
  // Taken from a signalfd-free sigwait below; blocked before gRPC starts threads.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  crosslink::runtime::CoordinatorOptions options;
  std::string state, scenario, job_id = "crosslink-coordinator";
  double heartbeat_s = 1, rendezvous_s = 300;
  options.tls_cert_file = Env("CROSSLINK_TLS_CERT");
  options.tls_key_file = Env("CROSSLINK_TLS_KEY");
  crosslink::base::FlagSet flags("crosslink-coordinator", kSynopsis);
  flags.Int("world-size", &options.world_size, "ranks in the job")
      .Alias("-n")
      .Min(1)
      .Max(1 << 20)
      .Required()
      .DefaultText("");
  flags.Int("port", &options.port, "port to listen on (fixed, so a restart finds the ranks)")
      .Min(1)
      .Max(65535)
      .Required()
      .DefaultText("");
  flags.String("bind", &options.bind_address, "interface to listen on (0.0.0.0: all)");
  flags.String("state", &state, "state file to persist to and reload from").ValueName("FILE");
  flags.String("scenario", &scenario, "scenario file served to the ranks").ValueName("FILE");
  flags.String("job-id", &job_id, "the job's name in messages (keep it across restarts)");
  flags.Double("heartbeat-interval", &heartbeat_s, "seconds between the ranks' heartbeats")
      .Above(0)
      .ValueName("SECONDS");
  flags
      .Int("heartbeat-miss-count", &options.heartbeat_miss_count,
           "missed heartbeats after which a rank is declared dead")
      .Min(1);
  flags.Double("rendezvous-timeout", &rendezvous_s, "seconds registration stays open")
      .Above(0)
      .ValueName("SECONDS");
  flags.String("tls-cert", &options.tls_cert_file, "PEM certificate: serve TLS only")
      .ValueName("FILE")
      .DefaultText("$CROSSLINK_TLS_CERT");
  flags.String("tls-key", &options.tls_key_file, "PEM private key of --tls-cert")
      .ValueName("FILE")
      .DefaultText("$CROSSLINK_TLS_KEY");
  if (std::optional<int> code = flags.ParseMain(argc, argv); code.has_value()) return *code;

  options.job_token = Env("CROSSLINK_JOB_TOKEN");
  if (options.job_token.empty()) {
    std::cerr << "crosslink-coordinator: set CROSSLINK_JOB_TOKEN to the job's token\n";
    return 2;
  }
  options.launcher_token = Env("CROSSLINK_LAUNCHER_TOKEN");
  options.job_id = job_id;
  options.state_file = state;
  options.heartbeat_interval = absl::Seconds(heartbeat_s);
  options.rendezvous_timeout = absl::Seconds(rendezvous_s);
  if (!scenario.empty()) {
    std::ifstream in(scenario);
    if (!in) {
      std::cerr << "crosslink-coordinator: cannot read scenario " << scenario << "\n";
      return 1;
    }
    std::ostringstream text;
    text << in.rdbuf();
    options.scenario_text = text.str();
  }
  absl::StatusOr<std::unique_ptr<crosslink::runtime::CoordinatorServer>> server =
      crosslink::runtime::CoordinatorServer::Start(options);
  if (!server.ok()) {
    std::cerr << "crosslink-coordinator: " << server.status().message() << "\n";
    return 1;
  }
  const crosslink::runtime::Membership m = (*server)->membership();
  std::cerr << "crosslink-coordinator: job " << job_id << " serving " << options.world_size
            << " ranks on " << (*server)->address() << " at membership epoch " << m.epoch
            << (state.empty() ? std::string() : absl::StrCat(" (state file ", state, ")"))
            << std::endl;
  // Wait for a signal, checking for a Shutdown request between polls.
  const timespec poll = {0, 200'000'000};
  while (true) {
    siginfo_t info;
    if (sigtimedwait(&set, &info, &poll) > 0) break;
    if ((*server)->WaitForShutdownRequest(absl::Now())) break;
  }
  (*server)->Stop();
  return 0;
}
