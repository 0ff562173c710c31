// Measures what one transport connection on this machine can do, for the `ideal` scenario's
// ring bound: the rate of one stream of large messages and the one-way latency of a small one.
// Works over any transport Context (crosslink-bench passes the TCP transport on 127.0.0.1, the
// transport its ranks use), so the bound describes the same path the collective takes.
//
// Blocking: runs two ranks as two threads of the calling process and returns when both finish or
// the deadline passes. Not thread-safe against itself (it loads both cores of a small machine, so
// run it while nothing else is measured).
#ifndef CROSSLINK_BENCH_LIB_LOOPBACK_PROBE_H_
#define CROSSLINK_BENCH_LIB_LOOPBACK_PROBE_H_

#include <cstdint>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "crosslink/collectives/transport/transport.h"

namespace crosslink::bench {

struct LoopbackProbeOptions {
  // Bytes streamed for the rate: large enough that start-up costs vanish (the rate settles after
  // a few tens of MiB on loopback), small enough to take well under a second.
  int64_t stream_bytes = int64_t{256} << 20;
  // Size of each streamed message: the executor's chunk size is of this order.
  int64_t message_bytes = int64_t{4} << 20;
  // Ping-pong round trips averaged for the latency.
  int round_trips = 200;
  int64_t ping_bytes = 8;
  absl::Time deadline = absl::InfiniteFuture();
};

struct LoopbackProbeResult {
  double stream_rate_bytes_per_s = 0;
  double latency_s = 0;  // one way: half the mean round trip of a ping_bytes message
};

// Makes the Context of one rank (0 or 1) on the transport under test.
using ContextFactory =
    std::function<absl::StatusOr<std::unique_ptr<collectives::Context>>(int rank)>;

// Connects rank 0 to rank 1 with `make_context` and measures. Errors of the transport come back
// as they are (kUnavailable, kDeadlineExceeded naming the connection).
absl::StatusOr<LoopbackProbeResult> ProbeLoopback(const ContextFactory& make_context,
                                                  const LoopbackProbeOptions& options);

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_LOOPBACK_PROBE_H_
