// crosslink-run's command line and the description of how a rank ended: the parts of the launcher
// that do not touch processes (launcher.cc runs them).
#include <string.h>

#include <cstdlib>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crosslink/base/flags.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/runtime/launcher.h"

namespace crosslink::runtime {
namespace {

constexpr char kSynopsis[] =
    "usage: crosslink-run -n N [--scenario FILE] [--timeout SECONDS] [--port P]\n"
    "                     [--grace SECONDS] [--min-ranks M] [--max-restarts K]\n"
    "                     [--output prefix|raw]\n"
    "                     -- PROGRAM [ARGS...]\n"
    "Starts the job coordinator on 127.0.0.1 and N ranks of PROGRAM with RANK, WORLD_SIZE,\n"
    "LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, CROSSLINK_JOB_TOKEN (and\n"
    "CROSSLINK_SCENARIO) set. Output lines are prefixed \"[rank i] \" (--output raw passes\n"
    "them through). When a rank fails the others learn it from the coordinator and are\n"
    "terminated after --grace seconds (default 5). Exit code: 0 when all ranks exit 0,\n"
    "else the first failing rank's status (128+signal when killed), 124 on --timeout.\n"
    "--min-ranks M (default N, for elastic jobs: CROSSLINK_ELASTIC=1): a failure after\n"
    "which at least M ranks still run is tolerated; the job then exits 0 when every rank\n"
    "still running exits 0.\n"
    "--max-restarts K: a rank that fails is started again (CROSSLINK_RESTART_COUNT=1, 2, ...)\n"
    "up to K times, after a backoff of 0.5 s doubling to 8 s; an elastic job's new process\n"
    "rejoins and receives the training state from a live rank.\n"
    "--tls-cert/--tls-key (or CROSSLINK_TLS_CERT/CROSSLINK_TLS_KEY): the coordinator serves\n"
    "TLS only; ranks verify it with --tls-ca (default: the certificate itself).\n";

// What the flags write before they become LaunchOptions.
struct LaunchFlagValues {
  int num_ranks = 0;
  std::string scenario;
  double timeout_s = 0;
  double grace_s = 5;
  int port = 0;
  int min_ranks = 0;
  int max_restarts = 0;
  std::string output = "prefix";
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  bool netns = false;
};

// crosslink-run's flags, writing into *values. Everything from PROGRAM on is left unparsed.
std::unique_ptr<base::FlagSet> LaunchFlags(LaunchFlagValues* values) {
  auto flags = std::make_unique<base::FlagSet>("crosslink-run", kSynopsis,
                                               base::FlagSet::Positionals::kStopAtFirst);
  flags->Int("num-ranks", &values->num_ranks, "ranks to start")
      .Alias("-n")
      .Min(1)
      .Max(4096)
      .Required()
      .DefaultText("");
  flags->String("scenario", &values->scenario, "scenario file the ranks run over")
      .ValueName("FILE");
  flags->Double("timeout", &values->timeout_s, "end the job (exit 124) after this long")
      .Above(0)
      .ValueName("SECONDS")
      .DefaultText("none");
  flags->Int("port", &values->port, "coordinator port (0: an ephemeral one)").Min(0).Max(65535);
  flags->Double("grace", &values->grace_s, "after a rank fails, seconds the others get to exit")
      .Above(0)
      .ValueName("SECONDS");
  flags
      ->Int("min-ranks", &values->min_ranks,
            "ranks that must keep running after a failure for the job to go on")
      .Min(1)
      .Max(4096)
      .ValueName("M")
      .DefaultText("N");
  flags
      ->Int("max-restarts", &values->max_restarts,
            "times a failed rank is started again (elastic jobs rejoin it)")
      .Min(0)
      .Max(1000)
      .ValueName("K");
  flags->Choice("output", &values->output, {"prefix", "raw"},
                "\"[rank i] \" before each output line, or raw pass-through");
  flags->String("tls-cert", &values->tls_cert, "PEM certificate: the coordinator serves TLS")
      .ValueName("FILE");
  flags->String("tls-key", &values->tls_key, "PEM private key of --tls-cert").ValueName("FILE");
  flags
      ->String("tls-ca", &values->tls_ca,
               "PEM CA the ranks verify the coordinator with (default: --tls-cert)")
      .ValueName("FILE");
  flags->Switch("netns", &values->netns,
                "each rank in its own network namespace, joined by veth links that the "
                "scenario's contact plan cuts (root; needs --scenario)");
  return flags;
}

}  // namespace

std::string RankExit::Describe() const {
  if (!signaled) return absl::StrCat("exited with status ", status);
  const char* abbrev = sigabbrev_np(status);
  return absl::StrCat("was killed by signal ", status,
                      abbrev != nullptr ? absl::StrCat(" (SIG", abbrev, ")") : std::string());
}

std::string LaunchUsage() {
  LaunchFlagValues values;
  return LaunchFlags(&values)->Help();
}

absl::StatusOr<LaunchOptions> ParseLaunchArgs(const std::vector<std::string>& args) {
  LaunchFlagValues values;
  std::unique_ptr<base::FlagSet> flags = LaunchFlags(&values);
  ASSIGN_OR_RETURN(base::FlagSet::Parsed parsed, flags->Parse(args));
  LaunchOptions options;
  if (parsed.help) {
    options.help = true;
    return options;
  }
  options.num_ranks = values.num_ranks;
  options.scenario_path = values.scenario;
  if (flags->Given("timeout")) options.timeout = absl::Seconds(values.timeout_s);
  options.grace_period = absl::Seconds(values.grace_s);
  options.port = values.port;
  options.netns = values.netns;
  options.min_ranks = values.min_ranks;
  options.max_restarts = values.max_restarts;
  options.output = values.output == "raw" ? OutputMode::kPassThrough : OutputMode::kPrefix;
  options.command = std::move(parsed.rest);
  // The environment names the files when the flags do not (the flags win).
  const auto env_or = [](const std::string& flag, const char* name) {
    const char* value = getenv(name);
    return !flag.empty() || value == nullptr ? flag : std::string(value);
  };
  options.tls_cert_file = env_or(values.tls_cert, "CROSSLINK_TLS_CERT");
  options.tls_key_file = env_or(values.tls_key, "CROSSLINK_TLS_KEY");
  options.tls_ca_file = env_or(values.tls_ca, "CROSSLINK_TLS_CA");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key (CROSSLINK_TLS_CERT, CROSSLINK_TLS_KEY) go together");
  }
  if (options.command.empty()) {
    return absl::InvalidArgumentError("no program given: put it after '--'");
  }
  if (options.min_ranks > options.num_ranks) {
    return absl::InvalidArgumentError(
        absl::StrCat("--min-ranks ", options.min_ranks, " exceeds -n ", options.num_ranks));
  }
  return options;
}

}  // namespace crosslink::runtime
