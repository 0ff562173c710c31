// CPU cost of a collective: user+system CPU seconds per GB reduced, the figure crosslink-bench
// prints for Crosslink and for its Gloo baseline (issue 16, "Fewer copies"). A copy that a ring
// step avoids shows here even where the wall time is bound by something else (memory bandwidth
// shared with the other ranks, the scheduler of a loaded host).
//
// Definition: the user+system CPU time that all ranks' processes (every thread: the caller's, the
// transports' receiver and sender threads, heartbeats) spent between the start and the end of
// the timed iterations, summed over the ranks, divided by the gigabytes reduced, that is the
// number of timed iterations times the allreduce's buffer size in 10^9 bytes. Each rank samples
// getrusage(RUSAGE_SELF) around each of its timed rounds and adds the differences up.
#ifndef CROSSLINK_BENCH_LIB_CPU_COST_H_
#define CROSSLINK_BENCH_LIB_CPU_COST_H_

#include <cstdint>

namespace crosslink::bench {

// One reading of this process's CPU time, in seconds (all its threads).
struct CpuSample {
  double user_s = 0;
  double system_s = 0;
};

// getrusage(RUSAGE_SELF) now; zeros if it fails (it cannot for RUSAGE_SELF).
CpuSample SampleProcessCpu();

// CPU seconds (user + system) between two samples of the same process; never negative.
double CpuSecondsBetween(const CpuSample& before, const CpuSample& after);

// The figure: `cpu_seconds` (summed over every rank) per 10^9 bytes of `iterations` allreduces of
// `buffer_bytes` each. 0 when nothing was reduced.
double CpuSecondsPerGb(double cpu_seconds, int64_t buffer_bytes, int64_t iterations);

}  // namespace crosslink::bench

#endif  // CROSSLINK_BENCH_LIB_CPU_COST_H_
