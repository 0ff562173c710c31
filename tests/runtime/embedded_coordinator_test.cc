// Jobs started without crosslink-run, as Slurm or Kubernetes start them: every rank is a plain
// process with the launch variables set, and rank 0 hosts the coordinator on
// MASTER_ADDR:MASTER_PORT (embedded_coordinator.cc). The ranks are real processes of
// crosslink-test-communicator-worker, which joins with Communicator::CreateFromEnvironment and
// checks an allreduce element by element; each rank is bounded by its own setup and collective
// deadlines (60 s, 20 s), so the waits below end.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace {

const std::string kWorker = std::string(CROSSLINK_BIN_DIR) + "/crosslink-test-communicator-worker";

// A port the kernel just handed out and released: free unless another process grabs it in the
// moment before rank 0 binds it.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

struct Rank {
  pid_t pid = -1;
  int out_fd = -1;
  int exit_code = -1;
  std::string output;
};

// Starts the worker with exactly `env` (nothing inherited, so no crosslink-run variable leaks in).
Rank Start(const std::vector<std::string>& env, const std::string& count) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  Rank rank;
  rank.pid = fork();
  if (rank.pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    std::vector<char*> envp;
    for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>(kWorker.c_str()), const_cast<char*>("allreduce"),
                    const_cast<char*>(count.c_str()), nullptr};
    execve(kWorker.c_str(), argv, envp.data());
    _exit(127);
  }
  close(fds[1]);
  rank.out_fd = fds[0];
  return rank;
}

void Finish(Rank& rank) {
  char buffer[4096];
  ssize_t got;
  while ((got = read(rank.out_fd, buffer, sizeof(buffer))) > 0) rank.output.append(buffer, got);
  close(rank.out_fd);
  int status = 0;
  waitpid(rank.pid, &status, 0);
  rank.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs a 2-rank job where rank r gets common_env plus per_rank(r).
std::vector<Rank> RunJob(const std::vector<std::string>& common_env,
                         const std::function<std::vector<std::string>(int)>& per_rank) {
  std::vector<Rank> ranks;
  // Rank 1 first: it must wait for rank 0's coordinator to come up, not fail.
  for (int r : {1, 0}) {
    std::vector<std::string> env = common_env;
    for (std::string& e : per_rank(r)) env.push_back(std::move(e));
    ranks.push_back(Start(env, "100003"));
  }
  for (Rank& rank : ranks) Finish(rank);
  return ranks;
}

TEST(EmbeddedCoordinatorTest, TorchrunStyleRanksAllreduceWithRankZeroHostingTheCoordinator) {
  const int port = FreePort();
  ASSERT_GT(port, 0);
  const std::vector<std::string> common = {"MASTER_ADDR=127.0.0.1",
                                           absl::StrCat("MASTER_PORT=", port),
                                           "WORLD_SIZE=2",
                                           "LOCAL_WORLD_SIZE=2",
                                           "CROSSLINK_JOB_TOKEN=embedded-test-token",
                                           "CROSSLINK_COORDINATOR=embedded"};
  const std::vector<Rank> ranks = RunJob(common, [](int r) {
    return std::vector<std::string>{absl::StrCat("RANK=", r), absl::StrCat("LOCAL_RANK=", r)};
  });
  for (const Rank& rank : ranks) {
    EXPECT_EQ(rank.exit_code, 0) << rank.output;
    EXPECT_NE(rank.output.find("result: OK"), std::string::npos) << rank.output;
  }
}

TEST(EmbeddedCoordinatorTest, SlurmRanksEmbedTheCoordinatorByDefault) {
  const int port = FreePort();
  ASSERT_GT(port, 0);
  // No CROSSLINK_COORDINATOR: under srun nobody else runs one, so "auto" embeds it.
  const std::vector<std::string> common = {
      "MASTER_ADDR=127.0.0.1", absl::StrCat("MASTER_PORT=", port),
      "SLURM_NTASKS=2",        "SLURM_NTASKS_PER_NODE=2",
      "SLURM_NODEID=0",        "SLURM_JOB_NODELIST=localhost",
      "SLURM_JOB_ID=4242",     "CROSSLINK_JOB_TOKEN=embedded-slurm-token"};
  const std::vector<Rank> ranks = RunJob(common, [](int r) {
    return std::vector<std::string>{absl::StrCat("SLURM_PROCID=", r),
                                    absl::StrCat("SLURM_LOCALID=", r)};
  });
  for (const Rank& rank : ranks) {
    EXPECT_EQ(rank.exit_code, 0) << rank.output;
    EXPECT_NE(rank.output.find("result: OK"), std::string::npos) << rank.output;
  }
}

TEST(EmbeddedCoordinatorTest, BadCoordinatorModeIsRejectedBeforeJoining) {
  const int port = FreePort();
  ASSERT_GT(port, 0);
  Rank rank = Start({"MASTER_ADDR=127.0.0.1", absl::StrCat("MASTER_PORT=", port), "RANK=0",
                     "WORLD_SIZE=1", "LOCAL_RANK=0", "LOCAL_WORLD_SIZE=1", "CROSSLINK_JOB_TOKEN=t",
                     "CROSSLINK_COORDINATOR=sometimes"},
                    "16");
  Finish(rank);
  EXPECT_EQ(rank.exit_code, 2) << rank.output;  // the worker's setup-error status
  EXPECT_NE(rank.output.find("INVALID_ARGUMENT"), std::string::npos) << rank.output;
}

}  // namespace
