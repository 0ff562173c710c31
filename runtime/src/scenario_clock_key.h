// The key under which rank 0 publishes, in the coordinator's key-value store, the wall instant
// (Unix nanoseconds) at which orbit time 0 of the scenario plays: every rank's emulators and the
// --netns driver of crosslink-run read the same clock from it.
#ifndef CROSSLINK_RUNTIME_SRC_SCENARIO_CLOCK_KEY_H_
#define CROSSLINK_RUNTIME_SRC_SCENARIO_CLOCK_KEY_H_

namespace crosslink::runtime {

inline constexpr char kScenarioClockKey[] = "crosslink/communicator/scenario_wall_start_unix_ns";

}  // namespace crosslink::runtime

#endif  // CROSSLINK_RUNTIME_SRC_SCENARIO_CLOCK_KEY_H_
