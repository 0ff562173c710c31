// Parsing the environment of each supported launcher into one LaunchEnv, and refusing
// incomplete or contradictory ones with a message that names the variables.
#include "crosslink/runtime/launch_env.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace crosslink::runtime {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

EnvMap Torchrun() {
  return {{"RANK", "5"},
          {"WORLD_SIZE", "8"},
          {"LOCAL_RANK", "1"},
          {"LOCAL_WORLD_SIZE", "4"},
          {"MASTER_ADDR", "node0"},
          {"MASTER_PORT", "29500"},
          {"CROSSLINK_JOB_TOKEN", "secret"}};
}

EnvMap Slurm() {
  return {{"SLURM_PROCID", "6"},      {"SLURM_NTASKS", "7"},
          {"SLURM_LOCALID", "0"},     {"SLURM_TASKS_PER_NODE", "2(x3),1"},
          {"SLURM_NODEID", "3"},      {"SLURM_JOB_NODELIST", "gpu[01-04,07],cpu3"},
          {"SLURM_JOB_ID", "123456"}, {"CROSSLINK_JOB_TOKEN", "secret"}};
}

EnvMap OpenMpi() {
  return {{"OMPI_COMM_WORLD_RANK", "3"},       {"OMPI_COMM_WORLD_SIZE", "4"},
          {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
          {"MASTER_ADDR", "10.0.0.1"},         {"MASTER_PORT", "4000"},
          {"CROSSLINK_JOB_TOKEN", "secret"}};
}

TEST(LaunchEnvTest, Torchrun) {
  EnvMap env = Torchrun();
  env["CROSSLINK_SCENARIO"] = "/scenarios/walker.toml";
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(env);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->launcher, Launcher::kTorchrun);
  EXPECT_EQ(parsed->rank, 5);
  EXPECT_EQ(parsed->world_size, 8);
  EXPECT_EQ(parsed->local_rank, 1);
  EXPECT_EQ(parsed->local_world_size, 4);
  EXPECT_EQ(parsed->master_addr, "node0");
  EXPECT_EQ(parsed->master_port, 29500);
  EXPECT_EQ(parsed->job_token, "secret");
  EXPECT_EQ(parsed->scenario_path, "/scenarios/walker.toml");
}

TEST(LaunchEnvTest, TorchrunWinsOverTheSlurmAllocationItRunsIn) {
  EnvMap env = Slurm();
  for (const auto& [k, v] : Torchrun()) env[k] = v;
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(env);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->launcher, Launcher::kTorchrun);
  EXPECT_EQ(parsed->rank, 5);
}

TEST(LaunchEnvTest, SlurmWithNodelistAndDerivedPort) {
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(Slurm());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->launcher, Launcher::kSlurm);
  EXPECT_EQ(parsed->rank, 6);
  EXPECT_EQ(parsed->world_size, 7);
  EXPECT_EQ(parsed->local_rank, 0);
  EXPECT_EQ(parsed->local_world_size, 1);  // Node 3's entry of "2(x3),1".
  EXPECT_EQ(parsed->master_addr, "gpu01");
  EXPECT_EQ(parsed->master_port, SlurmDerivedPort(123456));
  EXPECT_EQ(parsed->master_port, 23456);
}

TEST(LaunchEnvTest, SlurmDerivedPortIsTheSameForAllRanksAndDiffersBetweenJobs) {
  EnvMap a = Slurm();
  EnvMap b = Slurm();
  b["SLURM_PROCID"] = "0";
  b["SLURM_NODEID"] = "0";
  EXPECT_EQ(ParseLaunchEnv(a)->master_port, ParseLaunchEnv(b)->master_port);
  EXPECT_NE(SlurmDerivedPort(123456), SlurmDerivedPort(123457));
  for (long long id : {0LL, 9999LL, 10000LL, 4294967295LL}) {
    EXPECT_GE(SlurmDerivedPort(id), 20000);
    EXPECT_LT(SlurmDerivedPort(id), 30000);
  }
}

TEST(LaunchEnvTest, SlurmPrefersExplicitMasterAndNtasksPerNode) {
  EnvMap env = Slurm();
  env["MASTER_ADDR"] = "login1";
  env["MASTER_PORT"] = "31000";
  env["SLURM_TASKS_PER_NODE"] = "2(x4)";
  env["SLURM_NTASKS_PER_NODE"] = "2";
  env["SLURM_NTASKS"] = "8";
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(env);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->master_addr, "login1");
  EXPECT_EQ(parsed->master_port, 31000);
  EXPECT_EQ(parsed->local_world_size, 2);
}

TEST(LaunchEnvTest, SlurmContradictoryTasksPerNode) {
  EnvMap env = Slurm();
  env["SLURM_NTASKS_PER_NODE"] = "4";  // Node 3 runs 1 task according to SLURM_TASKS_PER_NODE.
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(env);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(),
              AllOf(HasSubstr("SLURM_NTASKS_PER_NODE"), HasSubstr("SLURM_TASKS_PER_NODE")));
}

TEST(LaunchEnvTest, SlurmWithoutNodeIdNeedsUniformTasksPerNode) {
  EnvMap env = Slurm();
  env.erase("SLURM_NODEID");
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(env);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("SLURM_NODEID"));
}

TEST(LaunchEnvTest, SlurmNodelistTooLargeIsRefusedNamingIt) {
  EnvMap env = Slurm();
  env["SLURM_JOB_NODELIST"] = "n[0-9223372036854775807]";
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(env);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("0-9223372036854775807"));
}

TEST(LaunchEnvTest, SlurmMissingCoordinatorLocation) {
  EnvMap env = Slurm();
  env.erase("SLURM_JOB_NODELIST");
  env.erase("SLURM_JOB_ID");
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(env);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), AllOf(HasSubstr("MASTER_ADDR or SLURM_JOB_NODELIST"),
                                               HasSubstr("MASTER_PORT or SLURM_JOB_ID")));
}

TEST(LaunchEnvTest, OpenMpi) {
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(OpenMpi());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->launcher, Launcher::kOpenMpi);
  EXPECT_EQ(parsed->rank, 3);
  EXPECT_EQ(parsed->world_size, 4);
  EXPECT_EQ(parsed->local_rank, 1);
  EXPECT_EQ(parsed->local_world_size, 2);
  EXPECT_EQ(parsed->master_addr, "10.0.0.1");
  EXPECT_EQ(parsed->master_port, 4000);
}

TEST(LaunchEnvTest, OpenMpiNeedsMasterAddress) {
  EnvMap env = OpenMpi();
  env.erase("MASTER_ADDR");
  env.erase("MASTER_PORT");
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(env);
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), AllOf(HasSubstr("MASTER_ADDR"), HasSubstr("MASTER_PORT")));
}

TEST(LaunchEnvTest, OpenMpiOnOneNodeNeedsNothingButMpirunsVariables) {
  // What mpirun -n 4 on one host sets: rank 0's coordinator is on loopback, its port derived
  // from the job id, the token is mpirun's per-job key.
  const EnvMap env = {
      {"OMPI_COMM_WORLD_RANK", "2"},
      {"OMPI_COMM_WORLD_SIZE", "4"},
      {"OMPI_COMM_WORLD_LOCAL_RANK", "2"},
      {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"},
      {"OMPI_MCA_ess_base_jobid", "598736897"},
      {"OMPI_MCA_orte_precondition_transports", "e93bffbef1699e4a-24390567013cb297"}};
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(env);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->master_addr, "127.0.0.1");
  EXPECT_EQ(parsed->master_port, SlurmDerivedPort(598736897));
  EXPECT_EQ(parsed->job_token, "ompi-e93bffbef1699e4a-24390567013cb297");
  // A token the user sets wins over mpirun's key.
  EnvMap with_token = env;
  with_token["CROSSLINK_JOB_TOKEN"] = "mine";
  EXPECT_EQ(ParseLaunchEnv(with_token)->job_token, "mine");
  // Across nodes the coordinator's host must be named.
  EnvMap two_nodes = env;
  two_nodes["OMPI_COMM_WORLD_LOCAL_SIZE"] = "2";
  two_nodes["OMPI_COMM_WORLD_LOCAL_RANK"] = "0";
  EXPECT_THAT(ParseLaunchEnv(two_nodes).status().message(), HasSubstr("MASTER_ADDR"));
}

TEST(LaunchEnvTest, IsLaunchedRankTellsARankFromABatchScript) {
  EXPECT_TRUE(IsLaunchedRank(Torchrun()));
  EXPECT_TRUE(IsLaunchedRank(OpenMpi()));
  EnvMap step = Slurm();
  step["SLURM_STEP_ID"] = "0";
  EXPECT_TRUE(IsLaunchedRank(step));
  // An sbatch script has SLURM_PROCID=0 but no step: it is where ranks are launched from.
  EXPECT_FALSE(IsLaunchedRank(Slurm()));
  EXPECT_FALSE(IsLaunchedRank({{"HOME", "/root"}}));
}

TEST(LaunchEnvTest, MissingVariablesAreAllNamed) {
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv({{"RANK", "0"}});
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* name : {"WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                           "MASTER_PORT", "CROSSLINK_JOB_TOKEN"}) {
    EXPECT_THAT(parsed.status().message(), HasSubstr(name));
  }
}

TEST(LaunchEnvTest, ContradictoryNumberingIsRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"RANK", "8"},              // rank >= world size
      {"LOCAL_RANK", "4"},        // local rank >= local world size
      {"LOCAL_WORLD_SIZE", "9"},  // more ranks on this node than in the job
      {"WORLD_SIZE", "0"},
      {"MASTER_PORT", "70000"},
      {"RANK", "five"},
  };
  for (const auto& [name, value] : cases) {
    EnvMap env = Torchrun();
    env[name] = value;
    const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv(env);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << name << "=" << value;
    EXPECT_THAT(parsed.status().message(), HasSubstr(name)) << name << "=" << value;
  }
}

TEST(LaunchEnvTest, NoLauncherAtAll) {
  const absl::StatusOr<LaunchEnv> parsed = ParseLaunchEnv({{"HOME", "/root"}});
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("crosslink-run"));
}

}  // namespace
}  // namespace crosslink::runtime
