#include "crosslink/runtime/launch_env.h"

#include <unistd.h>

#include <array>
#include <climits>
#include <cstdint>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/runtime/slurm_nodelist.h"

extern char** environ;

namespace crosslink::runtime {
namespace {

// Collects every problem of one parse, so that a user fixes their launch script once rather than
// once per variable.
class EnvReader {
 public:
  EnvReader(const EnvMap& env, std::string launcher) : env_(env), launcher_(std::move(launcher)) {}

  bool Has(std::string_view name) const { return env_.find(name) != env_.end(); }

  std::optional<std::string> Str(std::string_view name, bool required) {
    const auto it = env_.find(name);
    if (it == env_.end() || it->second.empty()) {
      if (required) missing_.emplace_back(name);
      return std::nullopt;
    }
    return it->second;
  }

  std::optional<long long> Int(std::string_view name, bool required) {
    std::optional<std::string> text = Str(name, required);
    if (!text) return std::nullopt;
    long long value = 0;
    if (!absl::SimpleAtoi(*text, &value)) {
      invalid_.push_back(absl::StrCat(std::string(name), "='", *text, "' is not an integer"));
      return std::nullopt;
    }
    return value;
  }

  void Missing(std::string_view name) { missing_.emplace_back(name); }

  // Reads an int variable that must fit in int; `fallback` when absent or invalid.
  int Int32(std::string_view name, bool required, int fallback) {
    std::optional<long long> value = Int(name, required);
    if (!value) return fallback;
    if (*value < INT32_MIN || *value > INT32_MAX) {
      invalid_.push_back(absl::StrCat(std::string(name), "=", *value, " is out of range"));
      return fallback;
    }
    return static_cast<int>(*value);
  }

  // How many problems were recorded so far; checks of derived facts run only when the facts they
  // derive from were read cleanly, so one missing variable does not cause a false contradiction.
  size_t problems() const { return missing_.size() + invalid_.size(); }

  void Contradiction(std::string what) { invalid_.push_back(std::move(what)); }

  absl::Status Finish() const {
    if (missing_.empty() && invalid_.empty()) return absl::OkStatus();
    std::string message = absl::StrCat(launcher_, " launch environment is unusable:");
    if (!missing_.empty()) {
      absl::StrAppend(&message, " missing ", absl::StrJoin(missing_, ", "));
      if (!invalid_.empty()) absl::StrAppend(&message, ";");
    }
    if (!invalid_.empty()) absl::StrAppend(&message, " ", absl::StrJoin(invalid_, "; "));
    return absl::InvalidArgumentError(message);
  }

 private:
  const EnvMap& env_;
  const std::string launcher_;
  std::vector<std::string> missing_;
  std::vector<std::string> invalid_;
};

// The checks every launcher's numbering must pass; `names` are the variables as this launcher
// spells them (rank, world size, local rank, local world size).
void CheckNumbering(const LaunchEnv& env, const std::array<std::string, 4>& names,
                    EnvReader& reader) {
  if (env.world_size < 1) {
    reader.Contradiction(absl::StrCat(names[1], "=", env.world_size, " must be at least 1"));
  } else if (env.rank < 0 || env.rank >= env.world_size) {
    reader.Contradiction(absl::StrCat(names[0], "=", env.rank, " is outside 0..", names[1], "-1 (",
                                      names[1], "=", env.world_size, ")"));
  }
  if (env.local_world_size < 1) {
    reader.Contradiction(absl::StrCat(names[3], "=", env.local_world_size, " must be at least 1"));
  } else if (env.local_rank < 0 || env.local_rank >= env.local_world_size) {
    reader.Contradiction(absl::StrCat(names[2], "=", env.local_rank, " is outside 0..", names[3],
                                      "-1 (", names[3], "=", env.local_world_size, ")"));
  }
  if (env.world_size >= 1 && env.local_world_size > env.world_size) {
    reader.Contradiction(absl::StrCat(names[3], "=", env.local_world_size, " exceeds ", names[1],
                                      "=", env.world_size));
  }
}

void ReadMaster(EnvReader& reader, LaunchEnv& env, bool addr_required, bool port_required) {
  if (auto addr = reader.Str("MASTER_ADDR", addr_required)) env.master_addr = *addr;
  if (auto port = reader.Int("MASTER_PORT", port_required)) {
    if (*port < 1 || *port > 65535) {
      reader.Contradiction(absl::StrCat("MASTER_PORT=", *port, " is outside 1..65535"));
    } else {
      env.master_port = static_cast<int>(*port);
    }
  }
}

void ReadTorchrun(EnvReader& reader, LaunchEnv& env) {
  const size_t problems = reader.problems();
  env.rank = reader.Int32("RANK", true, 0);
  env.world_size = reader.Int32("WORLD_SIZE", true, 1);
  env.local_rank = reader.Int32("LOCAL_RANK", true, 0);
  env.local_world_size = reader.Int32("LOCAL_WORLD_SIZE", true, 1);
  const bool numbering_read = reader.problems() == problems;
  ReadMaster(reader, env, true, true);
  if (!numbering_read) return;
  CheckNumbering(env, {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"}, reader);
}

void ReadOpenMpi(EnvReader& reader, LaunchEnv& env) {
  const size_t problems = reader.problems();
  env.rank = reader.Int32("OMPI_COMM_WORLD_RANK", true, 0);
  env.world_size = reader.Int32("OMPI_COMM_WORLD_SIZE", true, 1);
  env.local_rank = reader.Int32("OMPI_COMM_WORLD_LOCAL_RANK", true, 0);
  env.local_world_size = reader.Int32("OMPI_COMM_WORLD_LOCAL_SIZE", true, 1);
  const bool numbering_read = reader.problems() == problems;
  // mpirun says nothing of a coordinator. When every rank runs on this node (the local world is
  // the whole world), rank 0's coordinator is on loopback; across nodes, the user names rank 0's
  // host (mpirun -x MASTER_ADDR=...). The port is derived from mpirun's job id, which every rank
  // of one mpirun shares and two concurrent mpiruns almost never do.
  const bool one_node = numbering_read && env.local_world_size == env.world_size;
  ReadMaster(reader, env, !one_node, false);
  if (env.master_addr.empty() && one_node) env.master_addr = "127.0.0.1";
  if (!reader.Has("MASTER_PORT")) {
    if (!reader.Has("OMPI_MCA_ess_base_jobid")) {
      reader.Missing("MASTER_PORT or OMPI_MCA_ess_base_jobid");
    } else if (auto job_id = reader.Int("OMPI_MCA_ess_base_jobid", true)) {
      env.master_port = SlurmDerivedPort(*job_id);
    }
  }
  if (!numbering_read) return;
  CheckNumbering(env,
                 {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
                  "OMPI_COMM_WORLD_LOCAL_SIZE"},
                 reader);
}

void ReadSlurm(EnvReader& reader, LaunchEnv& env) {
  const size_t problems = reader.problems();
  env.rank = reader.Int32("SLURM_PROCID", true, 0);
  env.world_size = reader.Int32("SLURM_NTASKS", true, 1);
  env.local_rank = reader.Int32("SLURM_LOCALID", true, 0);

  // Tasks on this node: SLURM_NTASKS_PER_NODE exists only with --ntasks-per-node; the per-node
  // list SLURM_TASKS_PER_NODE always exists and is indexed by SLURM_NODEID.
  std::optional<int> from_ntasks_per_node;
  if (reader.Has("SLURM_NTASKS_PER_NODE")) {
    from_ntasks_per_node = reader.Int32("SLURM_NTASKS_PER_NODE", true, 1);
  }
  std::optional<int> from_tasks_per_node;
  if (auto list = reader.Str("SLURM_TASKS_PER_NODE", false)) {
    absl::StatusOr<std::vector<int>> per_node = ExpandSlurmTasksPerNode(*list);
    if (!per_node.ok()) {
      reader.Contradiction(std::string(per_node.status().message()));
    } else {
      std::optional<long long> node_id = reader.Int("SLURM_NODEID", false);
      bool uniform = true;
      for (int n : *per_node) uniform = uniform && n == per_node->front();
      if (node_id) {
        if (*node_id < 0 || *node_id >= static_cast<long long>(per_node->size())) {
          reader.Contradiction(absl::StrCat("SLURM_NODEID=", *node_id, " has no entry in SLURM_",
                                            "TASKS_PER_NODE='", *list, "' (", per_node->size(),
                                            " nodes)"));
        } else {
          from_tasks_per_node = (*per_node)[*node_id];
        }
      } else if (uniform) {
        from_tasks_per_node = per_node->front();
      } else if (!from_ntasks_per_node) {
        reader.Contradiction(absl::StrCat("SLURM_TASKS_PER_NODE='", *list,
                                          "' differs between nodes and SLURM_NODEID is not set "
                                          "to say which entry is this node's"));
      }
    }
  }
  if (from_ntasks_per_node && from_tasks_per_node &&
      *from_ntasks_per_node != *from_tasks_per_node) {
    reader.Contradiction(absl::StrCat("SLURM_NTASKS_PER_NODE=", *from_ntasks_per_node,
                                      " disagrees with SLURM_TASKS_PER_NODE (",
                                      *from_tasks_per_node, " tasks on this node)"));
  }
  if (from_ntasks_per_node) {
    env.local_world_size = *from_ntasks_per_node;
  } else if (from_tasks_per_node) {
    env.local_world_size = *from_tasks_per_node;
  } else if (!reader.Has("SLURM_TASKS_PER_NODE")) {
    reader.Missing("SLURM_NTASKS_PER_NODE or SLURM_TASKS_PER_NODE");
  }

  const bool numbering_read = reader.problems() == problems;
  ReadMaster(reader, env, false, false);
  if (env.master_addr.empty()) {
    if (auto nodelist = reader.Str("SLURM_JOB_NODELIST", false)) {
      absl::StatusOr<std::vector<std::string>> hosts = ExpandSlurmNodelist(*nodelist);
      if (hosts.ok()) {
        env.master_addr = hosts->front();
      } else {
        reader.Contradiction(std::string(hosts.status().message()));
      }
    } else {
      reader.Missing("MASTER_ADDR or SLURM_JOB_NODELIST");
    }
  }
  if (!reader.Has("MASTER_PORT")) {
    if (!reader.Has("SLURM_JOB_ID")) {
      reader.Missing("MASTER_PORT or SLURM_JOB_ID");
    } else if (auto job_id = reader.Int("SLURM_JOB_ID", true)) {
      env.master_port = SlurmDerivedPort(*job_id);
    }
  }
  if (!numbering_read) return;
  CheckNumbering(env, {"SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "tasks on this node"},
                 reader);
}

}  // namespace

std::string_view LauncherName(Launcher launcher) {
  switch (launcher) {
    case Launcher::kTorchrun:
      return "torchrun";
    case Launcher::kOpenMpi:
      return "Open MPI";
    case Launcher::kSlurm:
      return "Slurm";
  }
  return "unknown launcher";
}

int SlurmDerivedPort(long long job_id) {
  // Port range chosen in the header's comment: 20000..29999.
  return 20000 + static_cast<int>((job_id % 10000 + 10000) % 10000);
}

absl::StatusOr<LaunchEnv> ParseLaunchEnv(const EnvMap& env) {
  const auto has = [&](std::string_view name) { return env.find(name) != env.end(); };
  LaunchEnv out;
  if (has("RANK") || has("WORLD_SIZE")) {
    out.launcher = Launcher::kTorchrun;
  } else if (has("OMPI_COMM_WORLD_RANK") || has("OMPI_COMM_WORLD_SIZE")) {
    out.launcher = Launcher::kOpenMpi;
  } else if (has("SLURM_PROCID")) {
    out.launcher = Launcher::kSlurm;
  } else {
    return absl::InvalidArgumentError(
        "no launcher environment found: none of RANK/WORLD_SIZE (crosslink-run, torchrun), "
        "OMPI_COMM_WORLD_RANK (mpirun) or SLURM_PROCID (srun) is set; start the program with "
        "crosslink-run -n N -- PROGRAM");
  }
  EnvReader reader(env, std::string(LauncherName(out.launcher)));
  switch (out.launcher) {
    case Launcher::kTorchrun:
      ReadTorchrun(reader, out);
      break;
    case Launcher::kOpenMpi:
      ReadOpenMpi(reader, out);
      break;
    case Launcher::kSlurm:
      ReadSlurm(reader, out);
      break;
  }
  // mpirun hands every rank of a job the same random 128-bit key (for its own transports) and no
  // one else; it serves as the job's token when the user sets none.
  const bool mpi_key = out.launcher == Launcher::kOpenMpi && !reader.Has("CROSSLINK_JOB_TOKEN") &&
                       reader.Has("OMPI_MCA_orte_precondition_transports");
  if (mpi_key) {
    if (auto key = reader.Str("OMPI_MCA_orte_precondition_transports", true)) {
      out.job_token = absl::StrCat("ompi-", *key);
    }
  } else if (auto token = reader.Str("CROSSLINK_JOB_TOKEN", true)) {
    out.job_token = *token;
  }
  if (auto scenario = reader.Str("CROSSLINK_SCENARIO", false)) out.scenario_path = *scenario;
  RETURN_IF_ERROR(reader.Finish());
  return out;
}

bool IsLaunchedRank(const EnvMap& env) {
  const auto has = [&](std::string_view name) { return env.find(name) != env.end(); };
  return has("RANK") || has("WORLD_SIZE") || has("OMPI_COMM_WORLD_RANK") ||
         (has("SLURM_PROCID") && has("SLURM_STEP_ID"));
}

EnvMap ProcessEnv() {
  EnvMap env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

absl::StatusOr<LaunchEnv> LaunchEnvFromProcess() { return ParseLaunchEnv(ProcessEnv()); }

}  // namespace crosslink::runtime
