// crosslink-linkmodel: the link model's command-line tool. One subcommand per task; each lives in
// its own <name>_command.{h,cc} and is listed once in kCommands below.
#include <cstdio>
#include <string_view>

#include "contacts_command.h"
#include "crosslink/base/flags.h"
#include "propagate_command.h"
#include "summary_command.h"

namespace {

struct Command {
  std::string_view name;
  int (*run)(int argc, char** argv);  // argv[0] is the subcommand's name
  std::string_view summary;
};

constexpr Command kCommands[] = {
    {"propagate", crosslink::linkmodel::tools::RunPropagate,
     "SGP4 states of TLE satellites on a time grid, as CSV"},
    {"contacts", crosslink::linkmodel::tools::RunContacts,
     "build a scenario's contact plan and export it (CSV, ION-DTN, plot)"},
    {"summary", crosslink::linkmodel::tools::RunSummary,
     "summarise a scenario's predicted and true contact plans"},
};

void PrintUsage(std::FILE* out) {
  std::fprintf(
      out, "usage: crosslink-linkmodel <command> [options]   (<command> --help for its options)\n");
  std::fprintf(out, "commands:\n");
  for (const Command& c : kCommands) {
    std::fprintf(out, "  %-10.*s %.*s\n", static_cast<int>(c.name.size()), c.name.data(),
                 static_cast<int>(c.summary.size()), c.summary.data());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage(stderr);
    return 2;
  }
  const std::string_view name = argv[1];
  if (crosslink::base::IsHelpArgument(argv[1]) || name == "help") {
    PrintUsage(stdout);
    return 0;
  }
  for (const Command& c : kCommands) {
    if (c.name == name) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "crosslink-linkmodel: unknown command '%s'\n", argv[1]);
  PrintUsage(stderr);
  return 2;
}
