// JoinJob: what the launcher-test programs do first — read the launcher's environment, connect to
// the job's coordinator and register (no data plane). Fills `env` (and `world` when given) and
// returns the client, or prints why not on stderr and returns nullptr.
#ifndef CROSSLINK_TESTS_RUNTIME_PROGRAMS_JOIN_JOB_H_
#define CROSSLINK_TESTS_RUNTIME_PROGRAMS_JOIN_JOB_H_

#include <cstdio>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/launch_env.h"

namespace crosslink::runtime::testing {

inline std::unique_ptr<CoordinatorClient> JoinJob(LaunchEnv& env, World* world_out = nullptr) {
  absl::StatusOr<LaunchEnv> parsed = LaunchEnvFromProcess();
  if (!parsed.ok()) {
    std::fprintf(stderr, "launch env: %s\n", std::string(parsed.status().message()).c_str());
    return nullptr;
  }
  env = *std::move(parsed);
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> client = CoordinatorClient::Create(
      {env.master_addr + ":" + std::to_string(env.master_port), env.job_token, env.rank});
  if (!client.ok()) return nullptr;
  absl::StatusOr<World> world =
      (*client)->Register(env.world_size, "unused:0", absl::Now() + absl::Seconds(30));
  if (!world.ok()) {
    std::fprintf(stderr, "register: %s\n", std::string(world.status().message()).c_str());
    return nullptr;
  }
  if (world_out != nullptr) *world_out = *std::move(world);
  return *std::move(client);
}

}  // namespace crosslink::runtime::testing

#endif  // CROSSLINK_TESTS_RUNTIME_PROGRAMS_JOIN_JOB_H_
