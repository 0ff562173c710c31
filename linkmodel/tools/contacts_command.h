// `crosslink-linkmodel contacts`: build one contact plan of a scenario and export it.
//   crosslink-linkmodel contacts --scenario FILE --csv OUT [--ion OUT] [--plot OUT.png]
//                                [--outages OUT] [--predicted] [--threads N]
// The true plan (geometry and faults) unless --predicted (geometry only). Blocks until the files
// are written. Returns the process exit status: 0 done, 1 an error (printed to stderr with the
// file, key or satellite it concerns), 2 a usage error.
#ifndef CROSSLINK_LINKMODEL_TOOLS_CONTACTS_COMMAND_H_
#define CROSSLINK_LINKMODEL_TOOLS_CONTACTS_COMMAND_H_

namespace crosslink::linkmodel::tools {

// argv[0] is the subcommand's name ("contacts"); its options follow.
int RunContacts(int argc, char** argv);

}  // namespace crosslink::linkmodel::tools

#endif  // CROSSLINK_LINKMODEL_TOOLS_CONTACTS_COMMAND_H_
