// crosslink-test-rank-env: a rank that joins its job the way a training program does (launcher
// environment -> coordinator rendezvous -> barrier) and prints what it saw on one line, for
// launcher_test to check. Exits 1 with the error when any step fails.
#include <cstdio>
#include <string>

#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/launch_env.h"

int main() {
  using namespace crosslink::runtime;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  absl::StatusOr<LaunchEnv> env = LaunchEnvFromProcess();
  if (!env.ok()) {
    std::fprintf(stderr, "launch env: %s\n", std::string(env.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<std::unique_ptr<CoordinatorClient>> client = CoordinatorClient::Create(
      {env->master_addr + ":" + std::to_string(env->master_port), env->job_token, env->rank});
  if (!client.ok()) return 1;
  const std::string my_address = "127.0.0.1:" + std::to_string(40000 + env->rank);
  absl::StatusOr<World> world = (*client)->Register(env->world_size, my_address, deadline);
  if (!world.ok()) {
    std::fprintf(stderr, "register: %s\n", std::string(world.status().message()).c_str());
    return 1;
  }
  if (absl::Status s = (*client)->Barrier("env-checked", deadline, world->membership.epoch);
      !s.ok()) {
    std::fprintf(stderr, "barrier: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  const std::string first_line = world->scenario_text.substr(0, world->scenario_text.find('\n'));
  std::printf(
      "env rank=%d world=%d local_rank=%d local_world=%d master=%s:%d token_len=%zu job=%s "
      "addresses=%s scenario_path=%s scenario_line=%s\n",
      env->rank, env->world_size, env->local_rank, env->local_world_size, env->master_addr.c_str(),
      env->master_port, env->job_token.size(), world->job_id.c_str(),
      absl::StrJoin(world->data_addresses, ",").c_str(), env->scenario_path.c_str(),
      first_line.c_str());
  return 0;
}
