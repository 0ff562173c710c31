// crosslink-run's command line and the description of how a rank ended: the parts of the launcher
// that do not touch processes (launcher.cc runs them).
#include <string.h>

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "crosslink/runtime/launcher.h"

namespace crosslink::runtime {
namespace {

absl::StatusOr<absl::Duration> ParseSeconds(const std::string& flag, const std::string& value) {
  double seconds = 0;
  if (!absl::SimpleAtod(value, &seconds) || !std::isfinite(seconds) || seconds <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " expects a positive number of seconds, got '", value, "'"));
  }
  return absl::Seconds(seconds);
}

absl::StatusOr<int> ParseInt(const std::string& flag, const std::string& value, int lo, int hi) {
  int n = 0;
  if (!absl::SimpleAtoi(value, &n) || n < lo || n > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " expects an integer in ", lo, "..", hi, ", got '", value, "'"));
  }
  return n;
}

}  // namespace

std::string RankExit::Describe() const {
  if (!signaled) return absl::StrCat("exited with status ", status);
  const char* abbrev = sigabbrev_np(status);
  return absl::StrCat("was killed by signal ", status,
                      abbrev != nullptr ? absl::StrCat(" (SIG", abbrev, ")") : std::string());
}

std::string LaunchUsage() {
  return "usage: crosslink-run -n N [--scenario FILE] [--timeout SECONDS] [--port P]\n"
         "                     [--grace SECONDS] [--min-ranks M] [--output prefix|raw]\n"
         "                     -- PROGRAM [ARGS...]\n"
         "Starts the job coordinator on 127.0.0.1 and N ranks of PROGRAM with RANK, WORLD_SIZE,\n"
         "LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, CROSSLINK_JOB_TOKEN (and\n"
         "CROSSLINK_SCENARIO) set. Output lines are prefixed \"[rank i] \" (--output raw passes\n"
         "them through). When a rank fails the others learn it from the coordinator and are\n"
         "terminated after --grace seconds (default 5). Exit code: 0 when all ranks exit 0,\n"
         "else the first failing rank's status (128+signal when killed), 124 on --timeout.\n"
         "--min-ranks M (default N, for elastic jobs: CROSSLINK_ELASTIC=1): a failure after\n"
         "which at least M ranks still run is tolerated; the job then exits 0 when every rank\n"
         "still running exits 0.\n";
}

absl::StatusOr<LaunchOptions> ParseLaunchArgs(const std::vector<std::string>& args) {
  LaunchOptions options;
  size_t i = 0;
  const auto value_of = [&](const std::string& arg, const std::string& flag,
                            std::string* value) -> absl::Status {
    if (arg.size() > flag.size() && arg[flag.size()] == '=') {
      *value = arg.substr(flag.size() + 1);
      return absl::OkStatus();
    }
    if (i + 1 >= args.size()) {
      return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
    }
    *value = args[++i];
    return absl::OkStatus();
  };
  const auto is_flag = [](const std::string& arg, const std::string& flag) {
    return arg == flag || (arg.rfind(flag + "=", 0) == 0);
  };
  bool have_n = false;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    std::string value;
    if (arg == "--") {
      ++i;
      break;
    }
    if (is_flag(arg, "-n") || is_flag(arg, "--num-ranks")) {
      const std::string flag = arg.rfind("--", 0) == 0 ? "--num-ranks" : "-n";
      if (absl::Status s = value_of(arg, flag, &value); !s.ok()) return s;
      absl::StatusOr<int> n = ParseInt(flag, value, 1, 4096);
      if (!n.ok()) return n.status();
      options.num_ranks = *n;
      have_n = true;
    } else if (is_flag(arg, "--scenario")) {
      if (absl::Status s = value_of(arg, "--scenario", &value); !s.ok()) return s;
      options.scenario_path = value;
    } else if (is_flag(arg, "--timeout")) {
      if (absl::Status s = value_of(arg, "--timeout", &value); !s.ok()) return s;
      absl::StatusOr<absl::Duration> d = ParseSeconds("--timeout", value);
      if (!d.ok()) return d.status();
      options.timeout = *d;
    } else if (is_flag(arg, "--grace")) {
      if (absl::Status s = value_of(arg, "--grace", &value); !s.ok()) return s;
      absl::StatusOr<absl::Duration> d = ParseSeconds("--grace", value);
      if (!d.ok()) return d.status();
      options.grace_period = *d;
    } else if (is_flag(arg, "--port")) {
      if (absl::Status s = value_of(arg, "--port", &value); !s.ok()) return s;
      absl::StatusOr<int> port = ParseInt("--port", value, 0, 65535);
      if (!port.ok()) return port.status();
      options.port = *port;
    } else if (is_flag(arg, "--min-ranks")) {
      if (absl::Status s = value_of(arg, "--min-ranks", &value); !s.ok()) return s;
      absl::StatusOr<int> m = ParseInt("--min-ranks", value, 1, 4096);
      if (!m.ok()) return m.status();
      options.min_ranks = *m;
    } else if (is_flag(arg, "--output")) {
      if (absl::Status s = value_of(arg, "--output", &value); !s.ok()) return s;
      if (value == "prefix") {
        options.output = OutputMode::kPrefix;
      } else if (value == "raw") {
        options.output = OutputMode::kPassThrough;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("--output expects 'prefix' or 'raw', got '", value, "'"));
      }
    } else if (!arg.empty() && arg[0] == '-') {
      return absl::InvalidArgumentError(absl::StrCat("unknown option '", arg, "'"));
    } else {
      break;  // The program, without "--".
    }
  }
  options.command.assign(args.begin() + std::min(i, args.size()), args.end());
  if (!have_n) return absl::InvalidArgumentError("-n N (the number of ranks) is required");
  if (options.min_ranks > options.num_ranks) {
    return absl::InvalidArgumentError(absl::StrCat("--min-ranks ", options.min_ranks,
                                                   " exceeds the ", options.num_ranks, " ranks"));
  }
  if (options.command.empty()) {
    return absl::InvalidArgumentError("no program given: put it after '--'");
  }
  return options;
}

}  // namespace crosslink::runtime
