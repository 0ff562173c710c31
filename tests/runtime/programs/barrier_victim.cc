// crosslink-test-barrier-victim VICTIM: every rank joins the job and heartbeats; rank VICTIM then
// kills itself with SIGKILL while the others wait in a coordinator barrier that VICTIM never
// reaches. The survivors must get an error naming VICTIM within seconds; each prints
// "barrier result: CODE after S s: MESSAGE" and exits 1 on error (0 if the barrier passed).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/launch_env.h"
#include "join_job.h"

int main(int argc, char** argv) {
  using namespace crosslink::runtime;
  if (argc != 2) {
    std::fprintf(stderr, "usage: crosslink-test-barrier-victim VICTIM\n");
    return 2;
  }
  const int victim = std::atoi(argv[1]);
  LaunchEnv env;
  World world;
  std::unique_ptr<CoordinatorClient> client = testing::JoinJob(env, &world);
  if (client == nullptr) return 1;
  if (!client->StartHeartbeats({}).ok()) return 1;
  // Every rank must know the world from before the death: a survivor whose Register answered
  // after it would wait with the later epoch, among the live ranks only, and name whichever
  // survivor exited first instead. A first barrier that the victim passes too settles that.
  if (absl::Status s =
          client->Barrier("joined", absl::Now() + absl::Seconds(60), world.membership.epoch);
      !s.ok()) {
    std::fprintf(stderr, "barrier 'joined': %s\n", s.ToString().c_str());
    return 1;
  }
  if (env.rank == victim) raise(SIGKILL);

  // The survivors' deadline is far beyond what the test allows, so only the membership change
  // can end this barrier in time.
  const absl::Time start = absl::Now();
  const absl::Status s =
      client->Barrier("never-complete", start + absl::Seconds(120), world.membership.epoch);
  std::printf("barrier result: %s after %.2f s: %s\n", absl::StatusCodeToString(s.code()).c_str(),
              absl::ToDoubleSeconds(absl::Now() - start), std::string(s.message()).c_str());
  std::fflush(stdout);
  return s.ok() ? 0 : 1;
}
