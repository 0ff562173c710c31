// crosslink-test-exit-code CODE RANK: every rank joins the job; rank RANK then exits with CODE and
// the others exit 0. launcher_test checks that crosslink-run exits with CODE and names RANK.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/launch_env.h"
#include "join_job.h"

int main(int argc, char** argv) {
  using namespace crosslink::runtime;
  if (argc != 3) {
    std::fprintf(stderr, "usage: crosslink-test-exit-code CODE RANK\n");
    return 2;
  }
  const int code = std::atoi(argv[1]);
  const int failing_rank = std::atoi(argv[2]);
  LaunchEnv env;
  std::unique_ptr<CoordinatorClient> client = testing::JoinJob(env);
  if (client == nullptr) return 1;
  if (env.rank == failing_rank) {
    std::printf("rank %d exits with %d on purpose\n", env.rank, code);
    return code;
  }
  return 0;
}
