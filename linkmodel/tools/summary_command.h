// `crosslink-linkmodel summary`: build a scenario's predicted and true contact plans and print
// their summaries (contact_plan_summary.h), the satellites hosting the ranks, and the wall time
// each build took.
//   crosslink-linkmodel summary --scenario FILE [--plot OUT.png] [--threads N]
// --plot draws the true plan's availability. Blocks until done. Returns the process exit status:
// 0 done, 1 an error (printed to stderr), 2 a usage error.
#ifndef CROSSLINK_LINKMODEL_TOOLS_SUMMARY_COMMAND_H_
#define CROSSLINK_LINKMODEL_TOOLS_SUMMARY_COMMAND_H_

namespace crosslink::linkmodel::tools {

// argv[0] is the subcommand's name ("summary"); its options follow.
int RunSummary(int argc, char** argv);

}  // namespace crosslink::linkmodel::tools

#endif  // CROSSLINK_LINKMODEL_TOOLS_SUMMARY_COMMAND_H_
