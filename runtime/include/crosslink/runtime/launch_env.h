// LaunchEnv: who this process is in a job, read from the environment its launcher set. Crosslink
// runs under crosslink-run, torchrun, Slurm's srun or Open MPI's mpirun; each names rank, world
// size and locality differently, and only some say where the coordinator is. ParseLaunchEnv turns
// any of them into one struct, so a training program never reads launcher variables itself.
//
// Precedence (innermost launcher wins, since launchers nest: torchrun under srun, mpirun inside a
// Slurm allocation, and the inner one's numbering is the one the program lives in):
//   1. torchrun / crosslink-run: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
//      MASTER_PORT (all required once RANK or WORLD_SIZE is set).
//   2. Open MPI: OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK,
//      OMPI_COMM_WORLD_LOCAL_SIZE; mpirun sets no coordinator, so MASTER_ADDR (or else 127.0.0.1
//      when every rank is on this node) and MASTER_PORT (or else
//      SlurmDerivedPort(OMPI_MCA_ess_base_jobid), the same for every rank of one mpirun).
//   3. Slurm: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE or
//      SLURM_TASKS_PER_NODE ("2(x3),1", indexed by SLURM_NODEID), MASTER_ADDR or else the first
//      host of SLURM_JOB_NODELIST ("gpu[01-04,07],cpu3" -> gpu01), MASTER_PORT or else
//      SlurmDerivedPort(SLURM_JOB_ID). slurm_nodelist.h expands (and bounds) Slurm's lists.
// Always: CROSSLINK_JOB_TOKEN (required; the coordinator refuses other tokens; under Open MPI it
// defaults to mpirun's per-job random key OMPI_MCA_orte_precondition_transports) and
// CROSSLINK_SCENARIO (optional path of the scenario file).
//
// Errors: kInvalidArgument naming every missing variable, or the variables that contradict each
// other (RANK=4 with WORLD_SIZE=4, LOCAL_WORLD_SIZE larger than WORLD_SIZE, a non-number), or
// saying that no launcher's variables are set at all.
// Thread-safety: the parsing functions are pure; LaunchEnvFromProcess reads `environ`, which is
// not safe against a concurrent setenv.
#ifndef CROSSLINK_RUNTIME_LAUNCH_ENV_H_
#define CROSSLINK_RUNTIME_LAUNCH_ENV_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace crosslink::runtime {

enum class Launcher { kTorchrun, kOpenMpi, kSlurm };

// "torchrun", "Open MPI", "Slurm".
std::string_view LauncherName(Launcher launcher);

struct LaunchEnv {
  Launcher launcher = Launcher::kTorchrun;
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  // Where the coordinator listens (rank 0's host for torchrun-style launches).
  std::string master_addr;
  int master_port = 0;
  std::string job_token;
  // Path of the scenario file; empty when CROSSLINK_SCENARIO is unset.
  std::string scenario_path;
};

using EnvMap = std::map<std::string, std::string, std::less<>>;

// Parses an environment given as a map (tests inject one).
absl::StatusOr<LaunchEnv> ParseLaunchEnv(const EnvMap& env);

// Parses this process's environment.
absl::StatusOr<LaunchEnv> LaunchEnvFromProcess();

// True when `env` makes this process one rank of a job started by a launcher: RANK or WORLD_SIZE
// (crosslink-run, torchrun), OMPI_COMM_WORLD_RANK (mpirun), or SLURM_PROCID inside a job step
// (srun sets SLURM_STEP_ID; an sbatch script itself has SLURM_PROCID=0 but is no rank). Programs
// that launch their own ranks otherwise (crosslink-bench) ask this.
bool IsLaunchedRank(const EnvMap& env);

// This process's environment as a map.
EnvMap ProcessEnv();

// The coordinator port for a Slurm job without MASTER_PORT: 20000 + job_id % 10000. Every rank of
// a job computes the same port, and two jobs sharing a node get different ones unless their ids
// are 10000 apart; the range stays below Linux's ephemeral ports (32768+), so an outgoing
// connection never holds it.
int SlurmDerivedPort(long long job_id);

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_LAUNCH_ENV_H_
