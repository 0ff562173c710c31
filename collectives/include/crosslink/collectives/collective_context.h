// What every collective entry point needs to know about the group it runs in: this rank, the
// world size, the job, the connections to every peer, and the sequence number the collective
// carries on the wire. The runtime's Communicator owns one and advances `sequence` after every
// collective; tests build one per rank thread over an in-process mesh.
//
// Ownership: the connections are borrowed; they must outlive every collective that uses them and
// must not be used by anything else while a collective runs. After a collective fails, their
// streams are out of step (executor.h): reconnect before the next one.
// Thread-safety: a plain struct; one collective at a time per context.
#ifndef CROSSLINK_COLLECTIVES_COLLECTIVE_CONTEXT_H_
#define CROSSLINK_COLLECTIVES_COLLECTIVE_CONTEXT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::collectives {

struct CollectiveContext {
  int rank = 0;
  int world_size = 1;
  uint64_t job_id = 0;
  // connections[p]: this rank's connection to rank p; nullptr at p == rank. Size world_size.
  std::vector<Connection*> connections;
  // The sequence number of the next collective; every rank must pass the same one. The owner
  // increments it after each collective, whether it succeeded or not.
  uint64_t sequence = 0;
};

// Options every collective takes.
struct CollectiveOptions {
  // When the collective gives up (kDeadlineExceeded). Defaults to 5 minutes after the options
  // were constructed, so that a forgotten deadline still never hangs a job.
  absl::Time deadline = absl::Now() + absl::Minutes(5);
  // Largest message the plan cuts a block into. 512 KiB: big enough that per-message overhead
  // (a header, a wake-up, ~10 µs) stays under 1% at 10 Gbit/s, small enough that a 4-rank ring
  // of a 16 MiB buffer has 8 segments per block to pipeline. Tests shrink it to force many.
  size_t max_segment_bytes = 512 << 10;
};

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_COLLECTIVE_CONTEXT_H_
