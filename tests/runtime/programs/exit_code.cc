// crosslink-test-exit-code CODE RANK [wait]: every rank joins the job; rank RANK then exits with
// CODE and the others exit 0 (with "wait", only after the coordinator reported RANK's exit: they
// wait at a barrier that RANK never reaches). launcher_test checks that crosslink-run exits with
// CODE and names RANK, or with --min-ranks that it tolerates the failure.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/launch_env.h"
#include "join_job.h"

int main(int argc, char** argv) {
  using namespace crosslink::runtime;
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: crosslink-test-exit-code CODE RANK [wait]\n");
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
  if (argc == 4 && std::string(argv[3]) == "wait") {
    // Ends with kAborted once the launcher reports RANK's exit to the coordinator.
    const absl::Status s = client->Barrier("never-complete", absl::Now() + absl::Seconds(30));
    std::printf("barrier: %s\n", s.ToString().c_str());
  }
  return 0;
}
