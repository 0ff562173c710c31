// The coordinator that rank 0 hosts inside its own process when no launcher runs one (Slurm,
// Kubernetes, mpirun), and the environment variables that ask for it. Private to the runtime:
// users reach it through CommunicatorOptions::host_coordinator or CROSSLINK_COORDINATOR.
#ifndef CROSSLINK_RUNTIME_SRC_EMBEDDED_COORDINATOR_H_
#define CROSSLINK_RUNTIME_SRC_EMBEDDED_COORDINATOR_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/coordinator_server.h"
#include "crosslink/runtime/launch_env.h"

namespace crosslink::runtime {

// Starts a coordinator for options.world_size ranks with options.job_token on the port of
// options.coordinator_address, bound to options.coordinator_bind_address (or the address's host),
// serving the text of options.scenario_path (none when empty or options.ideal). Registration
// closes after options.setup_timeout. With options.coordinator_state_file it persists its state
// there and reloads it (a restarted rank 0 restores the job); with coordinator_tls_cert_file and
// _key_file it serves TLS only. Errors: kInvalidArgument (an address without a port),
// kNotFound (the scenario file cannot be read), kUnavailable (the port cannot be bound; the
// message names the address).
absl::StatusOr<std::unique_ptr<CoordinatorServer>> StartEmbeddedCoordinator(
    const CommunicatorOptions& options);

// Sets options.host_coordinator and options.coordinator_bind_address from CROSSLINK_COORDINATOR
// (embedded | external | auto, default auto: embedded when `launch` came from Slurm or Open MPI)
// and CROSSLINK_COORDINATOR_BIND in `env`. kInvalidArgument for another CROSSLINK_COORDINATOR.
absl::Status ApplyCoordinatorEnvironment(const LaunchEnv& launch, const EnvMap& env,
                                         CommunicatorOptions& options);

// Sets options.coordinator_timeout from CROSSLINK_COORDINATOR_TIMEOUT (seconds, > 0),
// options.coordinator_state_file from CROSSLINK_COORDINATOR_STATE and the TLS files from
// CROSSLINK_TLS_CA, CROSSLINK_TLS_CERT and CROSSLINK_TLS_KEY, and options.data_tls from
// CROSSLINK_DATA_TLS (0 or 1) in `env`. kInvalidArgument for a timeout that is no positive number
// or a CROSSLINK_DATA_TLS other than 0 or 1.
absl::Status ApplyCoordinatorFaultEnvironment(const EnvMap& env, CommunicatorOptions& options);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_EMBEDDED_COORDINATOR_H_
