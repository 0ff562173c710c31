#include "embedded_coordinator.h"

#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::runtime {
namespace {

// "host:port" or "[v6]:port" -> host (brackets stripped) and port.
absl::Status SplitHostPort(const std::string& address, std::string& host, int& port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("embedded coordinator: address \"", address,
                                                   "\" is not host:port with a port 1..65535"));
  }
  host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return absl::OkStatus();
}

// A job id every rank's logs can match: the same token gives the same id, and the token itself
// never appears (FNV-1a over a domain prefix and the token).
std::string JobIdFromToken(const std::string& token) {
  uint64_t h = 1469598103934665603ull;
  for (char c : std::string("crosslink embedded job id\n") + token) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return absl::StrCat("crosslink-", absl::Hex(h >> 32, absl::kZeroPad8));
}

}  // namespace

absl::StatusOr<std::unique_ptr<CoordinatorServer>> StartEmbeddedCoordinator(
    const CommunicatorOptions& options) {
  std::string host;
  int port = 0;
  RETURN_IF_ERROR(SplitHostPort(options.coordinator_address, host, port));
  CoordinatorOptions coordinator;
  coordinator.world_size = options.world_size;
  coordinator.job_token = options.job_token;
  coordinator.job_id = JobIdFromToken(options.job_token);
  coordinator.bind_address =
      options.coordinator_bind_address.empty() ? host : options.coordinator_bind_address;
  coordinator.port = port;
  coordinator.rendezvous_timeout = options.setup_timeout;
  coordinator.state_file = options.coordinator_state_file;
  coordinator.tls_cert_file = options.coordinator_tls_cert_file;
  coordinator.tls_key_file = options.coordinator_tls_key_file;
  if (!options.scenario_path.empty() && !options.ideal) {
    std::ifstream in(options.scenario_path);
    if (!in) {
      return absl::NotFoundError(absl::StrCat(
          "embedded coordinator of rank 0: cannot read scenario ", options.scenario_path.string()));
    }
    std::ostringstream text;
    text << in.rdbuf();
    coordinator.scenario_text = text.str();
  }
  auto server = CoordinatorServer::Start(std::move(coordinator));
  if (!server.ok()) {
    return absl::Status(
        server.status().code(),
        absl::StrCat("rank 0 cannot host the job's coordinator on ", options.coordinator_address,
                     " (CROSSLINK_COORDINATOR=external if one runs already; "
                     "CROSSLINK_COORDINATOR_BIND to pick the interface): ",
                     server.status().message()));
  }
  return server;
}

absl::Status ApplyCoordinatorEnvironment(const LaunchEnv& launch, const EnvMap& env,
                                         CommunicatorOptions& options) {
  std::string mode = "auto";
  if (auto it = env.find("CROSSLINK_COORDINATOR"); it != env.end() && !it->second.empty()) {
    mode = it->second;
  }
  if (mode == "embedded") {
    options.host_coordinator = true;
  } else if (mode == "external") {
    options.host_coordinator = false;
  } else if (mode == "auto") {
    // crosslink-run (and whoever sets RANK/WORLD_SIZE torchrun-style) runs the coordinator
    // itself; srun and mpirun run none.
    options.host_coordinator =
        launch.launcher == Launcher::kSlurm || launch.launcher == Launcher::kOpenMpi;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("CROSSLINK_COORDINATOR must be \"embedded\", \"external\" or \"auto\", got \"",
                     mode, "\""));
  }
  if (auto it = env.find("CROSSLINK_COORDINATOR_BIND"); it != env.end()) {
    options.coordinator_bind_address = it->second;
  }
  return absl::OkStatus();
}

absl::Status ApplyCoordinatorFaultEnvironment(const EnvMap& env, CommunicatorOptions& options) {
  const auto get = [&env](const char* name) -> std::string {
    const auto it = env.find(name);
    return it == env.end() ? std::string() : it->second;
  };
  if (const std::string text = get("CROSSLINK_COORDINATOR_TIMEOUT"); !text.empty()) {
    double seconds = 0;
    if (!absl::SimpleAtod(text, &seconds) || !(seconds > 0) || seconds > 1e7) {
      return absl::InvalidArgumentError(
          absl::StrCat("CROSSLINK_COORDINATOR_TIMEOUT must be a positive number of seconds, got \"",
                       text, "\""));
    }
    options.coordinator_timeout = absl::Seconds(seconds);
  }
  if (const std::string path = get("CROSSLINK_COORDINATOR_STATE"); !path.empty()) {
    options.coordinator_state_file = path;
  }
  if (const std::string ca = get("CROSSLINK_TLS_CA"); !ca.empty()) {
    options.coordinator_tls_ca_file = ca;
  }
  if (const std::string cert = get("CROSSLINK_TLS_CERT"); !cert.empty()) {
    options.coordinator_tls_cert_file = cert;
  }
  if (const std::string key = get("CROSSLINK_TLS_KEY"); !key.empty()) {
    options.coordinator_tls_key_file = key;
  }
  if (const std::string data_tls = get("CROSSLINK_DATA_TLS"); !data_tls.empty()) {
    if (data_tls != "0" && data_tls != "1") {
      return absl::InvalidArgumentError(
          absl::StrCat("CROSSLINK_DATA_TLS must be 0 or 1, got \"", data_tls, "\""));
    }
    options.data_tls = data_tls == "1";
  }
  return absl::OkStatus();
}

}  // namespace crosslink::runtime
