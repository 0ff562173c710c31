// The lines a crosslink-chaos-worker writes on stdout and the driver reads: one event per line,
// "chaos <kind> key=value ...", so a rank's other output (the runtime's logs) cannot be taken for
// an event, and a line the driver cannot parse is reported, never trusted. Shared by both ends so
// the format is defined once. Thread-compatible.
#ifndef CROSSLINK_BENCH_CHAOS_WORKER_EVENTS_H_
#define CROSSLINK_BENCH_CHAOS_WORKER_EVENTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace crosslink::chaos {

enum class EventKind {
  kReady,     // joined (Create succeeded): restart=<n>
  kStep,      // a committed step: step, epoch, live, dur_us (the step's collectives), outages
  kError,     // a failed call that the loop rides out: stage, code, msg
  kDataLoss,  // a collective failed with kDataLoss (a corruption caught): seq, msg; exits 4
  kWrong,     // a collective returned OK with a value other than the expected one: msg
  kRefused,   // the coordinator declared this process dead (a stale incarnation): msg; exit 3
  kBroken,    // the communicator broke on an error no death explained: msg; exit 5
  kFinal,     // stopped at the agreed step: step, hash
  kFatal,     // gave up: msg; exit 1
};

struct WorkerEvent {
  EventKind kind = EventKind::kFatal;
  int64_t t_us = 0;  // wall time (Unix microseconds) when it happened
  int64_t step = -1;
  int64_t epoch = 0;
  int live = 0;
  int64_t dur_us = 0;
  int64_t outages = 0;
  int restart = 0;
  uint64_t hash = 0;
  uint64_t seq = 0;  // the collective's sequence number (the same on every rank in it)
  std::string stage;
  std::string code;
  std::string msg;  // last on the line: may hold spaces, never a newline
};

std::string FormatEvent(const WorkerEvent& event);
// nullopt for a line that is not an event (no "chaos " prefix or a malformed one).
std::optional<WorkerEvent> ParseEvent(std::string_view line);
const char* EventName(EventKind kind);

}  // namespace crosslink::chaos

#endif  // CROSSLINK_BENCH_CHAOS_WORKER_EVENTS_H_
