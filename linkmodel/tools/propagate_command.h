// `crosslink-linkmodel propagate`: SGP4 states of TLE satellites on a time grid, as CSV.
//   crosslink-linkmodel propagate --tle FILE [--sat NORAD]... --start-min A --stop-min B
//                                 --step-min C [--no-checksum]
// Prints `norad,tsince_min,x_km,y_km,z_km,vx_km_s,vy_km_s,vz_km_s` (TEME, minutes since each TLE's
// epoch) for t = A, A+C, A+2C, ... while below B, then B itself, exactly as Vallado's verification
// driver walks its grid (t accumulates C). Positions print with 8 decimals, velocities with 9.
// Without --sat every satellite in the file, in file order; with it, the named ones in the order
// given. A satellite whose propagation fails gets one line on stderr and no further rows; the exit
// status stays 0. A file whose only fault is a checksum mismatch (Vallado's SGP4-VER.TLE has four
// hand-edited sets) is propagated after a warning on stderr; --no-checksum skips the check.
// Exit status: 0 done, 1 the file cannot be read or parsed, 2 a usage error.
// Blocks until done; single-threaded.
#ifndef CROSSLINK_LINKMODEL_TOOLS_PROPAGATE_COMMAND_H_
#define CROSSLINK_LINKMODEL_TOOLS_PROPAGATE_COMMAND_H_

namespace crosslink::linkmodel::tools {

// argv[0] is the subcommand's name ("propagate"); its options follow.
int RunPropagate(int argc, char** argv);

}  // namespace crosslink::linkmodel::tools

#endif  // CROSSLINK_LINKMODEL_TOOLS_PROPAGATE_COMMAND_H_
